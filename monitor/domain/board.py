"""The live board: what each chair shows right now, and the messages that change it.

Messages are plain dicts ready for JSON, with a ``type`` of ``snapshot``,
``reading``, ``alarm``, ``session`` or ``device`` (the WebSocket contract in
DESIGN.md); the REST API returns the same shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.readings import BedRef, DeviceStatus, Reading
from monitor.domain.sessions import Session

Message = dict[str, Any]


def alarm_message(alarm: Alarm, transition: str | None = None) -> Message:
    """An ``alarm`` message."""
    message: Message = {
        "type": "alarm", "id": alarm.id, "site": alarm.bed.site, "bed": alarm.bed.bed,
        "session_id": alarm.session_id, "kind": alarm.kind, "code": alarm.code,
        "vital": alarm.vital, "priority": alarm.priority, "state": alarm.state,
        "value": alarm.value, "limit": alarm.limit, "raised_ms": alarm.raised_ms,
        "updated_ms": alarm.updated_ms, "condition_present": alarm.condition_present,
        "acknowledged_by": alarm.acknowledged_by, "acknowledged_ms": alarm.acknowledged_ms,
        "paused_until_ms": alarm.paused_until_ms, "onset_value": alarm.onset_value,
        "worst_value": alarm.worst_value,
    }
    if transition is not None:
        message["transition"] = transition
    return message


def session_message(session: Session, status: Mapping[str, Any] | None = None) -> Message:
    """A ``session`` message; ``status`` adds discharge readiness and pause."""
    return {
        "type": "session", "id": session.id, "site": session.bed.site, "bed": session.bed.bed,
        "patient_ref": session.patient_ref, "phase": session.phase,
        "phase_started_ms": session.phase_started_ms, "profile": session.profile,
        "baseline": session.baseline, "warnings": list(session.warnings),
        "overrides": session.overrides, **(status or {}),
    }


def reading_message(reading: Reading, session_id: str | None, received_ms: int) -> Message:
    """A ``reading`` message: the values with ``ts`` as the device sent it."""
    return {
        "type": "reading", "site": reading.bed.site, "bed": reading.bed.bed,
        "session_id": session_id, "device_id": reading.device_id, "seq": reading.seq,
        "ts": reading.ts, "vitals": reading.vitals, "flags": reading.flags,
        "received_ms": received_ms,
    }


def device_message(status: DeviceStatus, received_ms: int) -> Message:
    """A ``device`` message: a device went online or offline."""
    return {
        "type": "device", "site": status.bed.site, "bed": status.bed.bed,
        "device_id": status.device_id, "state": status.state, "received_ms": received_ms,
    }


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
    status: dict[str, Any] = field(default_factory=dict)
    alarms: dict[str, Alarm] = field(default_factory=dict)

    def as_message(self) -> Message:
        """The tile as it appears in a snapshot and in ``GET /api/board``."""
        return {
            "site": self.bed.site, "bed": self.bed.bed, "device_id": self.device_id,
            "device_state": self.device_state, "last_received_ms": self.last_received_ms,
            "vitals": self.vitals, "flags": self.flags,
            "session": session_message(self.session, self.status) if self.session else None,
            "alarms": [alarm_message(alarm) for alarm in self.alarms.values()],
        }


class Board:
    """Every bed's current tile, kept up to date from readings, alarms and sessions."""

    def __init__(self) -> None:
        self._beds: dict[BedRef, BedView] = {}

    def bed(self, bed: BedRef) -> BedView:
        """The tile of ``bed``, created empty on first sight."""
        view = self._beds.get(bed)
        if view is None:
            view = self._beds[bed] = BedView(bed)
        return view

    def on_reading(self, reading: Reading, received_ms: int) -> None:
        """Show a reading's values, each with the device time it was measured."""
        view = self.bed(reading.bed)
        view.device_id = reading.device_id
        view.device_state = "online"
        view.last_received_ms = received_ms
        for vital, value in reading.vitals.items():
            view.vitals[vital] = {"value": value, "ts_ms": reading.ts_ms}
        view.flags = dict(reading.flags)

    def on_alarm(self, event: AlarmEvent) -> None:
        """Show an alarm while it is not cleared."""
        view = self.bed(event.alarm.bed)
        if event.alarm.state == "cleared":
            view.alarms.pop(event.alarm.id, None)
        else:
            view.alarms[event.alarm.id] = event.alarm

    def on_session(self, session: Session) -> None:
        """Show the bed's open session (none once it has ended)."""
        view = self.bed(session.bed)
        view.session = session if session.is_open else None
        if not session.is_open:
            view.status = {}

    def on_status(self, bed: BedRef, status: dict[str, Any]) -> bool:
        """Show a session's discharge readiness and pause; whether that changed."""
        view = self.bed(bed)
        if view.status == status:
            return False
        view.status = status
        return True

    def on_device(self, status: DeviceStatus) -> None:
        """Show whether the bed's device is online."""
        view = self.bed(status.bed)
        view.device_state = status.state
        if status.device_id is not None:
            view.device_id = status.device_id

    def alarm_counts(self) -> list[tuple[str, str, int]]:
        """Open alarms on the board: (state, priority, how many)."""
        counts: dict[tuple[str, str], int] = {}
        for view in self._beds.values():
            for alarm in view.alarms.values():
                key = (alarm.state, alarm.priority)
                counts[key] = counts.get(key, 0) + 1
        return [(state, priority, n) for (state, priority), n in sorted(counts.items())]

    def snapshot(self, server_ms: int) -> Message:
        """The whole board, as the first message a new client gets."""
        beds = sorted(self._beds.values(), key=lambda view: (view.bed.site, view.bed.bed))
        return {
            "type": "snapshot", "server_ms": server_ms,
            "beds": [view.as_message() for view in beds],
        }
