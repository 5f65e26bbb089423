"""The live board: what each chair shows right now.

Every change is kept here and told to the board's screens through the
:class:`~monitor.app.ports.BoardFeed` port (the WebSocket hub), which turns
it into the JSON the screens speak.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.app.ports import BoardFeed
from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.readings import BedRef, DeviceStatus, Reading
from monitor.domain.sessions import Session


@dataclass(slots=True)
class BedView:
    """One tile of the board."""

    bed: BedRef
    device_id: str | None = None
    device_state: str = "unknown"
    last_received_ms: int | None = None
    vitals: dict[str, dict[str, Any]] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    session: Session | None = None
    status: Mapping[str, Any] = field(default_factory=dict)
    alarms: dict[str, Alarm] = field(default_factory=dict)


class Board:
    """Every bed's current tile, kept up to date from readings, alarms and sessions.

    Attributes:
        time_scale: Simulated seconds per second of the monitor's clock: 1 for
            real patients; the demo's ``--speed``, whose chairs live through a
            session that many times faster. The screens multiply the durations
            they show (ages, time since start, discharge countdown) by it.
    """

    def __init__(self, feed: BoardFeed) -> None:
        self._beds: dict[BedRef, BedView] = {}
        self._feed = feed
        self.time_scale = 1.0

    def bed(self, bed: BedRef) -> BedView:
        """The tile of ``bed``, created empty on first sight."""
        view = self._beds.get(bed)
        if view is None:
            view = self._beds[bed] = BedView(bed)
        return view

    def views(self) -> list[BedView]:
        """Every tile, by site and bed."""
        return sorted(self._beds.values(), key=lambda view: (view.bed.site, view.bed.bed))

    def on_reading(self, reading: Reading, session_id: str | None, received_ms: int) -> None:
        """Show a reading's values, each with the device time it was measured."""
        view = self.bed(reading.bed)
        view.device_id = reading.device_id
        view.device_state = "online"
        view.last_received_ms = received_ms
        for vital, value in reading.vitals.items():
            view.vitals[vital] = {"value": value, "ts_ms": reading.ts_ms}
        view.flags = dict(reading.flags)
        self._feed.reading(reading, session_id, received_ms)

    def on_alarm(self, event: AlarmEvent) -> None:
        """Show an alarm while it is not cleared."""
        view = self.bed(event.alarm.bed)
        if event.alarm.state == "cleared":
            view.alarms.pop(event.alarm.id, None)
        else:
            view.alarms[event.alarm.id] = event.alarm
        self._feed.alarm(event.alarm, event.transition)

    def on_session(self, session: Session) -> None:
        """Show the bed's open session (none once it has ended)."""
        view = self.bed(session.bed)
        view.session = session if session.is_open else None
        if not session.is_open:
            view.status = {}
        self._feed.session(session, None)

    def on_status(self, session: Session, status: Mapping[str, Any]) -> None:
        """Show a session's discharge readiness and pause, if they changed."""
        view = self.bed(session.bed)
        if view.status == status:
            return
        view.status = status
        self._feed.session(session, status)

    def on_device(self, status: DeviceStatus, received_ms: int) -> None:
        """Show whether the bed's device is online."""
        view = self.bed(status.bed)
        view.device_state = status.state
        if status.device_id is not None:
            view.device_id = status.device_id
        self._feed.device(status, received_ms)

    def alarm_counts(self) -> list[tuple[str, str, int]]:
        """Open alarms on the board: (state, priority, how many)."""
        counts: dict[tuple[str, str], int] = {}
        for view in self._beds.values():
            for alarm in view.alarms.values():
                key = (alarm.state, alarm.priority)
                counts[key] = counts.get(key, 0) + 1
        return [(state, priority, n) for (state, priority), n in sorted(counts.items())]
