"""The JSON the board's screens and the REST API speak (the WebSocket contract in DESIGN.md).

Messages are plain dicts ready for JSON, with a ``type`` of ``snapshot``,
``reading``, ``alarm``, ``session`` or ``device``; the REST API returns the
same shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.app.board import BedView, Board
from monitor.domain.alarms import Alarm
from monitor.domain.readings import DeviceStatus, Reading
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
        "overrides": session.overrides, "plan": session.plan.as_dict() if session.plan else None,
        **(status or {}),
    }


def reading_message(reading: Reading, session_id: str | None, received_ms: int) -> Message:
    """A ``reading`` message: the values with ``ts`` as the device sent it."""
    return {
        "type": "reading", "site": reading.bed.site, "bed": reading.bed.bed,
        "session_id": session_id, "device_id": reading.device_id, "seq": reading.seq,
        "ts": reading.ts, "vitals": reading.vitals, "flags": reading.flags,
        "received_ms": received_ms,
    }


def reading_record(reading: Reading) -> Message:
    """A stored reading as ``GET /api/sessions/{id}/vitals`` and the JSONL export give it."""
    record: Message = {"ts": reading.ts, "seq": reading.seq, "device_id": reading.device_id,
                       "vitals": reading.vitals}
    if reading.flags:
        record["flags"] = reading.flags
    return record


def device_message(status: DeviceStatus, received_ms: int) -> Message:
    """A ``device`` message: a device went online or offline."""
    return {
        "type": "device", "site": status.bed.site, "bed": status.bed.bed,
        "device_id": status.device_id, "state": status.state, "received_ms": received_ms,
    }


def tile_message(view: BedView) -> Message:
    """A tile as it appears in a snapshot and in ``GET /api/board``."""
    return {
        "site": view.bed.site, "bed": view.bed.bed, "device_id": view.device_id,
        "device_state": view.device_state, "last_received_ms": view.last_received_ms,
        "vitals": view.vitals, "flags": view.flags,
        "session": session_message(view.session, view.status) if view.session else None,
        "alarms": [alarm_message(alarm) for alarm in view.alarms.values()],
    }


def snapshot_message(board: Board, server_ms: int) -> Message:
    """The whole board, as the first message a new client gets.

    ``time_scale`` is how many simulated seconds pass per second of
    ``server_ms`` (1 but in the demo at ``--speed``).
    """
    return {"type": "snapshot", "server_ms": server_ms, "time_scale": board.time_scale,
            "beds": [tile_message(view) for view in board.views()]}
