"""The running monitor: every part built from the settings, wired, and run under one TaskGroup.

:class:`Monitor` is used with ``async with``: entering opens the record
store, the broker (embedded or external) and restores the open sessions;
:meth:`Monitor.serve` runs every loop until told to stop. Shutdown (SIGTERM,
SIGINT, or the ``stop`` event) is orderly: stop taking messages from the
broker, process what was taken, commit it, acknowledge it, and only then
disconnect, so the broker has nothing left to redeliver.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self

import uvicorn

from monitor.adapters import influx, mqtt
from monitor.adapters.embedded_broker import embedded_broker
from monitor.adapters.pagers import build_pager
from monitor.adapters.postgres import Fence, PostgresStore
from monitor.api.app import create_app
from monitor.api.deps import ApiContext
from monitor.api.hub import BoardHub
from monitor.api.metrics import render as render_metrics
from monitor.api.standby import create_standby_app
from monitor.app.access import issue_demo_tokens, keep_tokens_fresh, load_tokens
from monitor.app.alarm_actions import TICK_SLOTS, AlarmActions
from monitor.app.beds import AlarmFanout, OpenSessions
from monitor.app.board import Board
from monitor.app.care_service import CareService
from monitor.app.counters import Counters, now_ms
from monitor.app.ingest import Processor
from monitor.app.outbox import OutboxShipper
from monitor.app.pager import Delivery
from monitor.app.ports import LeaseLostError, StoreUnavailableError, VitalsStore
from monitor.app.session_service import SessionService
from monitor.app.standby import ActiveStandby
from monitor.app.supervision import Work, supervised
from monitor.app.system_alarms import SYSTEM_BED, SystemAlarms
from monitor.app.upkeep import heartbeat, keep_collections_short, prune_forever
from monitor.app.writer import BatchWriter
from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.care import SessionCare
from monitor.domain.engine import BedEngine
from monitor.domain.limits import Profile
from monitor.domain.readings import iso_ms
from monitor.domain.sequence import SequenceTracker
from monitor.logs import redact_tokens
from monitor.settings import Settings, SettingsError, read_profiles, workflow_of
from monitor.stores import build_reports, data_dir_lock, influx_store, lease_of, record_store

log = logging.getLogger(__name__)

RECENT_SEQ_WINDOW_MS: Final = 15 * 60 * 1000
"""How far back the seq of stored readings is reloaded to recognise redeliveries."""
SHUTDOWN_DRAIN_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class Started:
    """What a started monitor tells whoever started it.

    Attributes:
        demo_tokens: In demo mode, a fresh token per role.
        board: The live board (the demo sets its time scale).
        care: What nurses record (the demo's scripted nurse records it too).
    """

    dashboard_url: str
    broker_url: str
    sessions: SessionService
    demo_tokens: dict[str, str]
    board: Board
    care: CareService


@contextlib.asynccontextmanager
async def _broker_url(settings: Settings) -> AsyncIterator[str]:
    if settings.mqtt_url:
        yield settings.mqtt_url
    else:
        async with embedded_broker(settings.embedded_broker_port) as url:
            yield url


class Monitor:
    """One monitor: its parts, how they are wired, and the TaskGroup that runs them."""

    def __init__(self, settings: Settings, *, demo: bool = False,
                 roles: ActiveStandby | None = None, fence: Fence | None = None) -> None:
        """``demo`` accepts a weak bootstrap token and issues a fresh token per role.

        With ``roles`` (PostgreSQL) it begins its term as the active monitor
        once the store is open, its store's commits pass ``fence`` first, and
        it stops as soon as the lease is lost.
        """
        self.settings = settings
        self._demo = demo
        self._roles = roles
        self._fence = fence
        self._stack = contextlib.AsyncExitStack()
        self._crashed_at: int | None = None
        self._stood: list[Alarm] = []
        """System alarms standing when the monitor last stopped (restored once serving)."""
        self.demo_tokens: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        """Open the store and the broker, wire every part, restore the open sessions.

        Raises:
            SettingsError: What the settings say cannot be used.
        """
        redact_tokens()
        settings = self.settings
        profiles = read_profiles(settings)
        try:
            self._stack.enter_context(data_dir_lock(settings.data_dir))
            self.store = store = record_store(settings)
            await store.open()
            self._stack.push_async_callback(store.close)
            if self._roles is not None:
                await self._roles.begin_term()
                if isinstance(store, PostgresStore):
                    store.fence = self._fence
            self.tokens = await load_tokens(store, settings, demo=self._demo)
            if self._demo:
                self.demo_tokens = await issue_demo_tokens(store, self.tokens)
            self._crashed_at = await store.mark_running(now_ms())
            self.broker_url = await self._stack.enter_async_context(_broker_url(settings))
            self._wire(profiles)
            self.pager = await build_pager(settings.paging_file, self.ingest.publish,
                                           self._stack, settings.data_dir)
            self.alarms.listeners.append(self.pager)
            await self._restore()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, error_type: type[BaseException] | None,
                        error: BaseException | None, traceback: TracebackType | None) -> None:
        """Note a clean stop (only after one), then close the broker and the store."""
        try:
            if error_type is None:
                await self.store.mark_stopped()
        finally:
            await self._stack.aclose()

    def _wire(self, profiles: dict[str, Profile]) -> None:
        settings, store = self.settings, self.store
        self.counters = Counters()
        self.hub = BoardHub(settings.ws_queue_size, settings.ws_send_timeout_s)
        self.board = Board(self.hub)
        self.alarms = AlarmFanout(self.board)
        self.inbox = mqtt.Inbox(settings.ingest_queue_size)
        self.ingest = mqtt.build(mqtt.MqttConfig(
            url=self.broker_url, client_id=settings.mqtt_client_id,
            protocol=settings.mqtt_protocol if settings.mqtt_url else "3.1.1",
            sites=settings.mqtt_sites, session_expiry_s=settings.mqtt_session_expiry_s,
            ca_file=settings.mqtt_ca_file,
            status_topic=f"infusion/system/monitor/{settings.instance}/status"
            if settings.mqtt_url else None), self.inbox)
        self.influx = influx_store(settings)
        self.writer = BatchWriter(
            store, self.ingest.ack, self.counters, batch_size=settings.batch_size,
            queue_size=settings.ingest_queue_size,
            to_outbox=influx.line if self.influx else None)
        self.system = SystemAlarms(self.alarms, self.writer)
        self.ingest.report = self.system.broker_event
        self.vitals: VitalsStore = self.influx or store
        self.shipper = None
        if self.influx is not None:
            self.shipper = OutboxShipper(store, self.influx, batch=settings.outbox_batch,
                                         on_outage=self.system.store_outage)
            self.writer.on_commit = self.shipper.kick
        self.open_sessions = OpenSessions(slots=TICK_SLOTS)
        self.sessions = SessionService(
            store, self.open_sessions, self.board, alarms=self.alarms, writer=self.writer,
            vitals=self.vitals, profiles=profiles, default_profile=settings.thresholds_profile)
        self.care = CareService(self.sessions, store, workflow_of(settings))
        self.actions = AlarmActions(self.open_sessions, self.alarms, self.writer, self.board,
                                    system=self.system, counters=self.counters)
        self.reports = build_reports(store, self.vitals, self.sessions)
        self._stack.push_async_callback(self.reports.close)
        self.processor = Processor(
            inbox=self.inbox, writer=self.writer, board=self.board, alarms=self.alarms,
            sessions=self.open_sessions, counters=self.counters, tracker=SequenceTracker(),
            gap_alarm_readings=settings.gap_alarm_readings)

    async def _restore(self) -> None:
        """Open sessions, their alarms and recent seq numbers, as stored before a restart."""
        now = now_ms()
        stored_alarms = await self.store.alarms("open")
        for session in await self.store.sessions(open_only=True):
            engine = BedEngine(session, self.sessions.profile_of(session), now_ms=now)
            alarms = [a for a in stored_alarms if a.session_id == session.id]
            engine.restore(alarms)
            engine.care = SessionCare.of(
                session, await self.store.infusion_events(session.id),
                await self.store.assessments(session.id), await self.store.checklist(session.id))
            self.open_sessions.open(engine)
            self.board.on_session(session)
            for alarm in alarms:
                self.board.on_alarm(AlarmEvent("raised", alarm))
        for source, seq, ts_ms in await self.store.recent_sequences(now - RECENT_SEQ_WINDOW_MS):
            self.processor.tracker.observe(source, seq, ts_ms)
        self._stood = [a for a in stored_alarms if a.session_id is None and a.bed == SYSTEM_BED]

    def ready(self) -> dict[str, bool]:
        """Whether the broker and the vitals store are reachable, and storing works."""
        return {"broker": self.ingest.connected.is_set(),
                "store": self.shipper is None or self.shipper.healthy,
                "store_writable": self.writer.failing is None}

    async def metrics(self) -> str:
        """``/metrics``."""
        ready = self.ready()
        gauges = {
            "ingest_queue": ("messages waiting to be processed", float(self.inbox.qsize())),
            "store_queue": ("results waiting to be committed", float(self.writer.depth)),
            "outbox": ("readings waiting for InfluxDB", float(await self.store.outbox_depth())),
            "outbox_shipped": ("readings shipped to InfluxDB since start-up",
                               float(self.shipper.shipped if self.shipper else 0)),
            "broker_reconnects": ("times the broker connection was lost since start-up",
                                  float(self.ingest.reconnects)),
            "ingest_pauses": ("times the broker socket was paused because the inbox was full",
                              float(self.ingest.pauses)),
            "store_up": ("1 if the vitals store takes readings", float(ready["store"])),
            "broker_up": ("1 if connected to the broker", float(ready["broker"])),
            "board_clients": ("connected board screens", float(self.hub.clients)),
            "open_sessions": ("sessions not ended", float(len(self.open_sessions.engines()))),
        }
        return render_metrics(self.counters, gauges, self.board.alarm_counts())

    def api_context(self) -> ApiContext:
        """What the HTTP routes work with."""
        return ApiContext(
            board=self.board, hub=self.hub, store=self.store, sessions=self.sessions,
            care=self.care, actions=self.actions, counters=self.counters, tokens=self.tokens,
            vitals=self.vitals, reports=self.reports,
            dashboard_dir=self.settings.dashboard_dir, ready=self.ready, metrics=self.metrics)

    async def serve(self, stop: asyncio.Event,
                    on_started: Callable[[Started], object] | None = None) -> None:
        """Run every loop and the HTTP server until ``stop`` is set, then shut down in order.

        ``on_started`` is called once the HTTP server is up; what it returns,
        if awaitable, runs as a task of the service (the demo runs its
        simulator so).

        Raises:
            SettingsError: The HTTP server could not start.
        """
        settings = self.settings
        app = create_app(self.api_context())
        # What start-up built (modules, the API's schemas, restored sessions) lives
        # as long as the process: leave it out of the collector's full passes.
        gc.collect()
        gc.freeze()
        server = uvicorn.Server(uvicorn.Config(
            app, host=settings.http_host, port=settings.http_port,
            log_level="warning", access_log=False, lifespan="off",
            # Board frames are small and go out thousands of times a second on a
            # clinic's LAN: compressing each costs more CPU than it saves.
            ws_per_message_deflate=False,
        ))
        async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as group:
            pager = self.pager
            async def crashed(name: str, error: Exception) -> None:
                self.counters.task_failures += 1
                await self.system.event("task_failed", "high",
                                        f"background task {name} failed ({error!r}); restarted")

            def loop(name: str, work: Work) -> asyncio.Task[None]:
                return supervised(group, name, work, crashed)

            loop("mqtt-ingest", self.ingest.run)
            clock = loop("alarm-clock", lambda: self.actions.run_clock(settings.tick_interval_s))
            endless = [
                clock,
                loop("process", self.processor.run),
                loop("store-writer", self.writer.run),
                loop("page-outcomes", lambda: self.actions.record_pages(pager.outcomes)),
                loop("tokens", lambda: keep_tokens_fresh(self.store, self.tokens)),
                loop("broker-watch", lambda: self.system.watch_broker(
                    self.ingest.connected, settings.broker_alarm_after_s)),
                loop("heartbeat", lambda: heartbeat(self.store)),
                loop("collections", keep_collections_short),
                *await self._storage_tasks(loop, stack),
            ]
            if self._roles is not None:  # not supervised: a lost lease ends the service
                endless.append(group.create_task(self._roles.hold(), name="lease"))
            # the store writer runs: what these raise or clear is committed
            await self.system.restore(self._stood)
            if self._crashed_at is not None and self._roles is not None and self._roles.took_over:
                await self.system.event("monitor_failover", "high", (
                    f"the active monitor stopped without handing over (last seen "
                    f"{iso_ms(self._crashed_at)}); {settings.instance} took over, and what the "
                    "broker kept meanwhile is being replayed"))
            elif self._crashed_at is not None:
                await self.system.event("monitor_restarted", "medium", (
                    f"the monitor stopped without shutting down (last seen "
                    f"{iso_ms(self._crashed_at)}); what the broker kept meanwhile is being "
                    "replayed"))
            http = group.create_task(server.serve(), name="http")
            while not server.started:
                if http.done():
                    raise SettingsError(f"HTTP server could not start on "
                                        f"{settings.http_host}:{settings.http_port}")
                await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            started = Started(f"http://{settings.http_host}:{port}/", self.broker_url,
                              self.sessions, self.demo_tokens, self.board, self.care)
            extra = on_started(started) if on_started else None
            if asyncio.iscoroutine(extra):
                endless.append(group.create_task(extra, name="demo"))
            waiting = asyncio.create_task(stop.wait())
            await asyncio.wait({waiting, http}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            clock.cancel()
            await pager.close()
            await self._drain(pager.outcomes)
            if self.shipper is not None:
                for task in endless:
                    if task.get_name() == "outbox-shipper":
                        task.cancel()
                left = await self.shipper.flush(SHUTDOWN_DRAIN_TIMEOUT_S)
                log.info("shutdown: %d readings wait in the outbox for the next start", left)
            server.should_exit = True
            for task in endless:
                task.cancel()

    async def _drain(self, outcomes: asyncio.Queue[Delivery]) -> None:
        """Stop taking messages; store and acknowledge what was taken; then disconnect."""
        inbox, writer = self.inbox, self.writer
        log.info("stopping: draining %d queued messages", inbox.qsize() + writer.depth)
        self.ingest.stop()
        try:
            async with asyncio.timeout(SHUTDOWN_DRAIN_TIMEOUT_S):
                await self.ingest.idle.wait()
                await inbox.join()
                await outcomes.join()
                await writer.join()
        except TimeoutError:
            log.error("shutdown: store did not take the last %d messages in time; the broker "
                      "redelivers them", inbox.qsize() + writer.depth)
        self.ingest.release()

    async def _storage_tasks(
        self, loop: Callable[[str, Work], asyncio.Task[None]],
        stack: contextlib.AsyncExitStack,
    ) -> list[asyncio.Task[None]]:
        """The outbox shipper (InfluxDB) and the retention job, as the settings ask."""
        tasks = []
        if self.shipper is not None and self.influx is not None:
            stack.push_async_callback(self.influx.close)
            try:
                await self.influx.ensure_database()
            except StoreUnavailableError as error:
                log.warning("InfluxDB is not reachable yet (%s); readings wait in the outbox",
                            error)
            tasks.append(loop("outbox-shipper", self.shipper.run))
        retention_days = self.settings.retention_days
        if retention_days is not None:
            tasks.append(loop("retention", lambda: prune_forever(
                retention_days, self.vitals, self.reports)))
        return tasks


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


async def standby_until_active(settings: Settings, roles: ActiveStandby,
                               stop: asyncio.Event) -> bool:
    """Serve the standby's ``/healthz`` and ``/readyz`` until this monitor holds the lease.

    Returns False if told to stop first.

    Raises:
        SettingsError: The HTTP server could not start.
    """
    server = uvicorn.Server(uvicorn.Config(
        create_standby_app(lambda: roles.reason), host=settings.http_host,
        port=settings.http_port, log_level="warning", access_log=False, lifespan="off"))
    async with asyncio.TaskGroup() as group:
        http = group.create_task(server.serve(), name="standby-http")
        waiting = group.create_task(roles.wait_until_active(), name="standby")
        stopping = group.create_task(stop.wait(), name="standby-stop")
        await asyncio.wait({http, waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        stopping.cancel()
        server.should_exit = True
    if not server.started:
        raise SettingsError(f"HTTP server could not start on "
                            f"{settings.http_host}:{settings.http_port}")
    return not stop.is_set()


async def run_monitor(
    settings: Settings,
    *,
    demo: bool = False,
    stop: asyncio.Event | None = None,
    on_started: Callable[[Started], object] | None = None,
) -> None:
    """Run a :class:`Monitor` until ``stop`` is set, or without one, until SIGTERM/SIGINT.

    On PostgreSQL it is the active monitor only while it holds the lease:
    until then it stands by (see :mod:`monitor.app.standby`).

    Raises:
        SettingsError: What the settings say cannot be used.
        SystemExit: The lease was lost: the process must end (a supervisor
            starts it again, as a standby).
    """
    if stop is None:
        stop = asyncio.Event()
        _install_signal_handlers(stop)
    lease = lease_of(settings)
    if lease is None:
        async with Monitor(settings, demo=demo) as monitor:
            await monitor.serve(stop, on_started)
        return
    roles = ActiveStandby(lease)
    try:
        if not await standby_until_active(settings, roles, stop):
            return
        async with Monitor(settings, demo=demo, roles=roles, fence=lease.fence) as monitor:
            await monitor.serve(stop, on_started)
    except* LeaseLostError as lost:
        raise SystemExit(f"monitor: {lost.exceptions[0]}; exiting, to start again as a "
                         "standby") from None
    finally:
        await lease.close()
