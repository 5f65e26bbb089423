"""Building the monitor's parts from the settings and wiring them to each other.

:func:`assemble` makes every part and returns them in a :class:`Parts`; the
service then runs their loops (``monitor.service``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from monitor.adapters.influx import InfluxVitals
from monitor.adapters.influx import line as influx_line
from monitor.adapters.mqtt import BrokerAddress, Inbox, MqttIngest
from monitor.adapters.sqlite import SqliteStore
from monitor.api.deps import ApiContext
from monitor.api.hub import BoardHub
from monitor.api.messages import session_message
from monitor.api.metrics import render as render_metrics
from monitor.app.access import keep_tokens_fresh
from monitor.app.alarm_actions import AlarmActions
from monitor.app.auth import TokenRegistry
from monitor.app.beds import AlarmFanout, OpenSessions
from monitor.app.board import Board
from monitor.app.counters import Counters, now_ms
from monitor.app.ingest import Processor
from monitor.app.outbox import OutboxShipper
from monitor.app.ports import VitalsStore
from monitor.app.reports import Reports
from monitor.app.session_service import SessionService
from monitor.app.system_alarms import SystemAlarms
from monitor.app.what_if import WhatIfWorker
from monitor.app.writer import BatchWriter
from monitor.domain.alarms import AlarmEvent
from monitor.domain.engine import BedEngine
from monitor.domain.limits import Profile
from monitor.domain.sequence import SequenceTracker
from monitor.settings import Settings

RECENT_SEQ_WINDOW_MS: Final = 15 * 60 * 1000
"""How far back the seq of stored readings is reloaded to recognise redeliveries."""


@dataclass(slots=True)
class Parts:
    """Every part of a running monitor."""

    settings: Settings
    store: SqliteStore
    tokens: TokenRegistry
    board: Board
    counters: Counters
    hub: BoardHub
    alarms: AlarmFanout
    inbox: Inbox
    ingest: MqttIngest
    writer: BatchWriter
    system: SystemAlarms
    vitals: VitalsStore
    influx: InfluxVitals | None
    shipper: OutboxShipper | None
    open_sessions: OpenSessions
    sessions: SessionService
    actions: AlarmActions
    reports: Reports
    processor: Processor

    def ready(self) -> dict[str, bool]:
        """Whether the broker and the vitals store are reachable."""
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
            actions=self.actions, counters=self.counters, tokens=self.tokens,
            vitals=self.vitals, reports=self.reports, dashboard_dir=self.settings.dashboard_dir,
            ready=self.ready, metrics=self.metrics,
        )

    async def refresh_tokens(self) -> None:
        """Follow tokens changed outside this process, forever."""
        await keep_tokens_fresh(self.store, self.tokens)


def _influx(settings: Settings) -> InfluxVitals | None:
    if settings.store != "influx":
        return None
    token = settings.influx_token.get_secret_value() if settings.influx_token else None
    password = settings.influx_password.get_secret_value() if settings.influx_password else None
    return InfluxVitals(settings.influx_url, settings.influx_db, token=token,
                        username=settings.influx_username, password=password)


async def _restore(parts: Parts) -> None:
    """Open sessions, their alarms and recent seq numbers, as stored before a restart."""
    now = now_ms()
    stored_alarms = await parts.store.alarms("open")
    for session in await parts.store.sessions(open_only=True):
        engine = BedEngine(session, parts.sessions.profile_of(session), now_ms=now)
        alarms = [a for a in stored_alarms if a.session_id == session.id]
        engine.restore(alarms)
        parts.open_sessions.open(engine)
        parts.board.on_session(session)
        for alarm in alarms:
            parts.board.on_alarm(AlarmEvent("raised", alarm))
    for source, seq, ts_ms in await parts.store.recent_sequences(now - RECENT_SEQ_WINDOW_MS):
        parts.processor.tracker.observe(source, seq, ts_ms)


async def assemble(settings: Settings, profiles: dict[str, Profile], store: SqliteStore,
                   broker_url: str, tokens: TokenRegistry) -> Parts:
    """Every part, wired, with the stored state restored."""
    counters = Counters()
    hub = BoardHub(settings.ws_queue_size, settings.ws_send_timeout_s)
    board = Board(hub)
    alarms = AlarmFanout(board)
    inbox = Inbox(settings.ingest_queue_size)
    ingest = MqttIngest(
        BrokerAddress.parse(broker_url), client_id=settings.mqtt_client_id,
        protocol=settings.mqtt_protocol if settings.mqtt_url else "3.1.1",
        sites=settings.mqtt_sites, session_expiry_s=settings.mqtt_session_expiry_s, inbox=inbox,
        ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
    )
    influx = _influx(settings)
    writer = BatchWriter(
        store, ingest.ack, counters, batch_size=settings.batch_size,
        queue_size=settings.ingest_queue_size, to_outbox=influx_line if influx else None,
    )
    system = SystemAlarms(alarms, writer)
    ingest.report = system.broker_event
    vitals: VitalsStore = influx or store
    shipper = None
    if influx is not None:
        shipper = OutboxShipper(store, influx, batch=settings.outbox_batch,
                                on_outage=system.store_outage)
        writer.on_commit = shipper.kick
    open_sessions = OpenSessions()
    sessions = SessionService(
        store, open_sessions, board, alarms=alarms, writer=writer, vitals=vitals,
        profiles=profiles, default_profile=settings.thresholds_profile,
    )
    parts = Parts(
        settings=settings, store=store, tokens=tokens, board=board, counters=counters, hub=hub,
        alarms=alarms, inbox=inbox, ingest=ingest, writer=writer, system=system, vitals=vitals,
        influx=influx, shipper=shipper, open_sessions=open_sessions, sessions=sessions,
        actions=AlarmActions(open_sessions, alarms, writer, board, system=system,
                             counters=counters),
        reports=Reports(store, vitals, sessions, WhatIfWorker(vitals.reading_source()),
                        session_message),
        processor=Processor(inbox=inbox, writer=writer, board=board, alarms=alarms,
                            sessions=open_sessions, counters=counters,
                            tracker=SequenceTracker(),
                            gap_alarm_readings=settings.gap_alarm_readings),
    )
    await _restore(parts)
    return parts
