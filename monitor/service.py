"""Wires the adapters to the domain and runs them under one TaskGroup.

Shutdown (SIGTERM, SIGINT, or the ``stop`` event) is orderly: stop taking
messages from the broker, process what was taken, commit it, acknowledge it,
and only then disconnect, so the broker has nothing left to redeliver.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import sqlite3
import tomllib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Final

import uvicorn

from monitor.adapters.embedded_broker import embedded_broker
from monitor.adapters.influx import StoreUnavailableError
from monitor.adapters.mqtt import MqttIngest
from monitor.adapters.pagers import build_pager
from monitor.adapters.sqlite import SqliteStore
from monitor.api.app import create_app
from monitor.api.exports import to_csv, to_fhir, to_html, to_jsonl
from monitor.app.access import issue_demo_tokens, load_tokens
from monitor.app.auth import TokenRegistry
from monitor.app.counters import now_ms
from monitor.app.pager import Delivery
from monitor.app.ports import Inbound, VitalsStore
from monitor.app.reports import Reports
from monitor.app.session_service import SessionService
from monitor.app.supervision import Work, supervised
from monitor.app.writer import BatchWriter
from monitor.assembly import Parts, assemble
from monitor.domain.limits import Profile, ProfileError, load_profiles
from monitor.domain.readings import iso_ms
from monitor.logs import redact_tokens
from monitor.settings import Settings, SettingsError

log = logging.getLogger(__name__)

RECENT_SEQ_WINDOW_MS: Final = 15 * 60 * 1000
DAY_MS: Final = 24 * 3600 * 1000
PRUNE_EVERY_S: Final = 3600.0
HEARTBEAT_S: Final = 10.0
"""How far back the seq of stored readings is reloaded to recognise redeliveries."""
SHUTDOWN_DRAIN_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class Started:
    """What a started monitor tells whoever started it.

    Attributes:
        demo_tokens: In demo mode, a fresh token per role.
    """

    dashboard_url: str
    broker_url: str
    sessions: SessionService
    demo_tokens: dict[str, str]


def read_profiles(settings: Settings) -> dict[str, Profile]:
    """Load the threshold profiles and check the default one exists.

    Raises:
        SettingsError: The file is missing or invalid, or lacks the profile.
    """
    path = settings.thresholds_file
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        profiles = load_profiles(document, str(path))
    except OSError as error:
        raise SettingsError(f"thresholds file {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, ProfileError) as error:
        raise SettingsError(f"thresholds file {path}: {error}") from None
    if settings.thresholds_profile not in profiles:
        raise SettingsError(
            f"thresholds_profile {settings.thresholds_profile!r} is not in {path} "
            f"(it has {', '.join(sorted(profiles))})"
        )
    return profiles


@contextlib.asynccontextmanager
async def _broker_url(settings: Settings) -> AsyncIterator[str]:
    if settings.mqtt_url:
        yield settings.mqtt_url
    else:
        async with embedded_broker(settings.embedded_broker_port) as url:
            yield url


async def _prune_forever(settings: Settings, vitals: VitalsStore, reports: Reports) -> None:
    """Once an hour: keep the reports of sessions whose readings age out, then prune."""
    assert settings.retention_days is not None
    while True:
        cutoff = now_ms() - round(settings.retention_days * DAY_MS)
        try:
            await reports.keep_all_ended()
            await vitals.prune(cutoff)
        except StoreUnavailableError as error:
            log.warning("pruning readings before %s waits: %s", cutoff, error)
        await asyncio.sleep(PRUNE_EVERY_S)


async def session_report(settings: Settings, session_id: str, fmt: str) -> str:
    """A session's report or export, read straight from the stores (``monitor report``).

    Raises:
        UnknownSessionError: No session has that id.
        StoreUnavailableError: InfluxDB does not answer.
    """
    profiles = read_profiles(settings)
    store = _record_store(settings)
    await store.open()
    try:
        # Reading only: the parts' broker connection is never opened.
        parts = await assemble(settings, profiles, store, "mqtt://127.0.0.1:1883",
                               TokenRegistry())
        try:
            session = await parts.sessions.get(session_id)
            if fmt in ("json", "html"):
                report = await parts.reports.report(session_id)
                if fmt == "json":
                    return json.dumps(report, indent=2) + "\n"
                return to_html(report, await parts.reports.readings(session))
            readings = await parts.reports.readings(session)
            if fmt == "csv":
                return to_csv(readings)
            if fmt == "jsonl":
                return to_jsonl(readings)
            return json.dumps(to_fhir(session, readings), indent=1) + "\n"
        finally:
            if parts.influx is not None:
                await parts.influx.close()
    finally:
        await store.close()


def _record_store(settings: Settings) -> SqliteStore:
    return SqliteStore(settings.data_dir / "monitor.db",
                       dead_letters_max_rows=settings.dead_letters_max_rows,
                       dead_letters_max_bytes=settings.dead_letters_max_bytes)


async def _heartbeat(store: SqliteStore) -> None:
    """Note the time now and then, so a restart after a crash can say when it happened.

    A heartbeat that cannot be written (a full disk) is skipped: the readings'
    commits fail too, and they raise ``storage_failed``.
    """
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            await store.mark_seen(now_ms())
        except (sqlite3.Error, OSError) as error:
            log.warning("heartbeat not written: %s", error)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


async def run_monitor(
    settings: Settings,
    *,
    demo: bool = False,
    stop: asyncio.Event | None = None,
    on_started: Callable[[Started], object] | None = None,
) -> None:
    """Run the monitor until ``stop`` is set, or without one, until SIGTERM/SIGINT.

    ``on_started`` is called once the broker, store and HTTP server are up;
    what it returns, if awaitable, runs as a task of the service (the demo
    runs its simulator so). ``demo`` accepts a weak bootstrap token and
    issues a fresh token per role.

    Raises:
        SettingsError: What the settings say cannot be used.
    """
    redact_tokens()
    if stop is None:
        stop = asyncio.Event()
        _install_signal_handlers(stop)
    profiles = read_profiles(settings)
    store = _record_store(settings)
    await store.open()
    try:
        tokens = await load_tokens(store, settings, demo=demo)
        demo_tokens = await issue_demo_tokens(store, tokens) if demo else {}
        last_seen = await store.mark_running(now_ms())
        async with _broker_url(settings) as broker_url:
            await _serve(settings, profiles, store, broker_url, tokens=tokens,
                         demo_tokens=demo_tokens, stop=stop, on_started=on_started,
                         crashed_at=last_seen)
        await store.mark_stopped()
    finally:
        await store.close()


async def _drain(
    ingest: MqttIngest,
    inbox: asyncio.Queue[Inbound],
    writer: BatchWriter,
    outcomes: set[asyncio.Task[None]],
) -> None:
    """Stop taking messages; store and acknowledge what was taken; then disconnect."""
    log.info("stopping: draining %d queued messages", inbox.qsize() + writer.depth)
    ingest.stop()
    try:
        async with asyncio.timeout(SHUTDOWN_DRAIN_TIMEOUT_S):
            await ingest.idle.wait()
            await inbox.join()
            await asyncio.gather(*outcomes, return_exceptions=True)
            await writer.join()
    except TimeoutError:
        log.error("shutdown: store did not take the last %d messages in time; the broker "
                  "redelivers them", inbox.qsize() + writer.depth)
    ingest.release()


async def _serve(
    settings: Settings,
    profiles: dict[str, Profile],
    store: SqliteStore,
    broker_url: str,
    *,
    tokens: TokenRegistry,
    demo_tokens: dict[str, str],
    stop: asyncio.Event,
    on_started: Callable[[Started], object] | None,
    crashed_at: int | None,
) -> None:
    parts = await assemble(settings, profiles, store, broker_url, tokens)
    # What start-up built (modules, the API's schemas, restored sessions) lives
    # as long as the process: leave it out of the collector's full passes.
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(uvicorn.Config(
        create_app(parts.api_context()), host=settings.http_host, port=settings.http_port,
        log_level="warning", access_log=False, lifespan="off",
        # Board frames are small and go out thousands of times a second on a
        # clinic's LAN: compressing each costs more CPU than it saves.
        ws_per_message_deflate=False,
    ))
    async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as group:
        outcomes: set[asyncio.Task[None]] = set()

        def report(delivery: Delivery) -> None:
            task = group.create_task(parts.actions.page_outcome(delivery), name="page-outcome")
            outcomes.add(task)
            task.add_done_callback(outcomes.discard)

        pager = await build_pager(settings.paging_file, parts.ingest.publish, report, stack)
        stack.push_async_callback(parts.reports.close)
        parts.alarms.listeners.append(pager)
        async def crashed(name: str, error: Exception) -> None:
            parts.counters.task_failures += 1
            await parts.system.event("task_failed", "high",
                                     f"background task {name} failed ({error!r}); restarted")

        def loop(name: str, work: Work) -> asyncio.Task[None]:
            return supervised(group, name, work, crashed)

        loop("mqtt-ingest", parts.ingest.run)
        clock = loop("alarm-clock", lambda: parts.actions.run_clock(settings.tick_interval_s))
        endless = [
            clock,
            loop("process", parts.processor.run),
            loop("store-writer", parts.writer.run),
            loop("tokens", parts.refresh_tokens),
            loop("broker-watch", lambda: parts.system.watch_broker(
                parts.ingest.connected, settings.broker_alarm_after_s)),
            loop("heartbeat", lambda: _heartbeat(store)),
            *await _storage_tasks(parts, loop, stack),
        ]
        if crashed_at is not None:  # after the store writer runs: the alarm is committed
            await parts.system.event("monitor_restarted", "medium", (
                f"the monitor stopped without shutting down (last seen {iso_ms(crashed_at)}); "
                "what the broker kept meanwhile is being replayed"))
        http = group.create_task(server.serve(), name="http")
        while not server.started:
            if http.done():
                raise SettingsError(f"HTTP server could not start on "
                                    f"{settings.http_host}:{settings.http_port}")
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        started = Started(f"http://{settings.http_host}:{port}/", broker_url, parts.sessions,
                          demo_tokens)
        extra = on_started(started) if on_started else None
        if asyncio.iscoroutine(extra):
            endless.append(group.create_task(extra, name="demo"))
        waiting = asyncio.create_task(stop.wait())
        await asyncio.wait({waiting, http}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        clock.cancel()
        await pager.close()
        await _drain(parts.ingest, parts.inbox, parts.writer, outcomes)
        if parts.shipper is not None:
            for task in endless:
                if task.get_name() == "outbox-shipper":
                    task.cancel()
            left = await parts.shipper.flush(SHUTDOWN_DRAIN_TIMEOUT_S)
            log.info("shutdown: %d readings wait in the outbox for the next start", left)
        server.should_exit = True
        for task in endless:
            task.cancel()


async def _storage_tasks(
    parts: Parts, loop: Callable[[str, Work], asyncio.Task[None]],
    stack: contextlib.AsyncExitStack,
) -> list[asyncio.Task[None]]:
    """The outbox shipper (InfluxDB) and the retention job, as the settings ask."""
    tasks = []
    if parts.shipper is not None and parts.influx is not None:
        stack.push_async_callback(parts.influx.close)
        try:
            await parts.influx.ensure_database()
        except StoreUnavailableError as error:
            log.warning("InfluxDB is not reachable yet (%s); readings wait in the outbox", error)
        tasks.append(loop("outbox-shipper", parts.shipper.run))
    if parts.settings.retention_days is not None:
        tasks.append(loop("retention", lambda: _prune_forever(
            parts.settings, parts.vitals, parts.reports)))
    return tasks
