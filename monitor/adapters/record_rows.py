"""Records as rows of the record store's tables, and back: the same for SQLite and PostgreSQL.

Both stores have the same tables and columns (their migrations are checked
against each other), so how an alarm or a session becomes a row, and a row
an alarm or a session, is written once, here.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Final, Protocol

from monitor.app.ports import StoredReading
from monitor.domain.alarms import Alarm
from monitor.domain.infusion import InfusionPlan
from monitor.domain.limits import Priority
from monitor.domain.readings import VITALS, BedRef
from monitor.domain.sessions import PHASES, Phase, Session

ALARM_COLUMNS: Final = (
    "id, site, bed, session_id, kind, code, vital, priority, state, value, limit_value, "
    "raised_ms, updated_ms, condition_present, acknowledged_by, acknowledged_ms, paused_until_ms, "
    "onset_value, worst_value"
)
READING_COLUMNS: Final = (
    "device_id, seq, ts_ms, ts, received_ms, site, bed, session_id, "
    + ", ".join(VITALS) + ", flags"
)
SESSION_COLUMNS: Final = ("id, site, bed, patient_ref, phase, phase_started, profile, baseline, "
                          "warnings, overrides, plan")


class Row(Protocol):
    """A row by column name (``sqlite3.Row``, or a dict from psycopg)."""

    def __getitem__(self, key: str, /) -> Any:  # noqa: ANN401 - a column of any type
        """The value of a column."""


def reading_insert(placeholder: str) -> str:
    """The statement that stores readings (parameters as :func:`reading_row`).

    A reading stored again is kept once; one stored before its bed's session
    opened (the cuff cycled first) is given the session when the session
    takes it.
    """
    values = ", ".join([placeholder] * len(READING_COLUMNS.split(", ")))
    return (f"INSERT INTO readings ({READING_COLUMNS}) VALUES ({values}) "  # noqa: S608
            "ON CONFLICT (site, bed, device_id, seq, ts_ms) DO UPDATE SET "
            "session_id = excluded.session_id "
            "WHERE readings.session_id IS NULL AND excluded.session_id IS NOT NULL")


def reading_row(stored: StoredReading) -> tuple[Any, ...]:
    """A stored reading as a row of ``readings`` (columns as :data:`READING_COLUMNS`)."""
    reading = stored.reading
    return (
        reading.device_id, reading.seq, reading.ts_ms, reading.ts, stored.received_ms,
        reading.bed.site, reading.bed.bed, stored.session_id,
        *(reading.vitals.get(vital) for vital in VITALS),
        json.dumps(reading.flags) if reading.flags else None,
    )


def alarm_row(alarm: Alarm) -> tuple[Any, ...]:
    """An alarm as a row of ``alarms`` (columns as :data:`ALARM_COLUMNS`)."""
    return (
        alarm.id, alarm.bed.site, alarm.bed.bed, alarm.session_id, alarm.kind, alarm.code,
        alarm.vital, alarm.priority, alarm.state, alarm.value, alarm.limit,
        alarm.raised_ms, alarm.updated_ms, int(alarm.condition_present), alarm.acknowledged_by,
        alarm.acknowledged_ms, alarm.paused_until_ms, alarm.onset_value, alarm.worst_value,
    )


def alarm_from_row(row: Row) -> Alarm:
    """A row of ``alarms`` as an alarm."""
    priority: Priority = row["priority"]
    return Alarm(
        id=row["id"], bed=BedRef(row["site"], row["bed"]), session_id=row["session_id"],
        kind=row["kind"], code=row["code"], vital=row["vital"], priority=priority,
        state=row["state"], value=row["value"], limit=row["limit_value"],
        raised_ms=row["raised_ms"], updated_ms=row["updated_ms"],
        condition_present=bool(row["condition_present"]),
        acknowledged_by=row["acknowledged_by"], acknowledged_ms=row["acknowledged_ms"],
        paused_until_ms=row["paused_until_ms"], onset_value=row["onset_value"],
        worst_value=row["worst_value"],
    )


def session_row(session: Session) -> tuple[Any, ...]:
    """A session as a row of ``sessions`` (columns as :data:`SESSION_COLUMNS`)."""
    return (
        session.id, session.bed.site, session.bed.bed, session.patient_ref, session.phase,
        json.dumps(session.phase_started_ms), session.profile, json.dumps(session.baseline),
        json.dumps(session.warnings), json.dumps(session.overrides),
        json.dumps(asdict(session.plan)) if session.plan else None,
    )


def session_from_row(row: Row) -> Session:
    """A row of ``sessions`` as a session."""
    started: dict[Phase, int] = {
        phase: at for phase, at in json.loads(row["phase_started"]).items() if phase in PHASES
    }
    phase: Phase = row["phase"]
    plan = json.loads(row["plan"]) if row["plan"] else None
    return Session(
        id=row["id"], bed=BedRef(row["site"], row["bed"]), patient_ref=row["patient_ref"],
        phase=phase, phase_started_ms=started, profile=row["profile"],
        baseline=json.loads(row["baseline"]), warnings=tuple(json.loads(row["warnings"])),
        overrides=json.loads(row["overrides"]),
        plan=InfusionPlan(**plan) if plan else None,
    )


def dead_letter_record(row: Row) -> dict[str, Any]:
    """A row of ``dead_letters`` as the API gives it: the payload as text where it decodes."""
    return {
        "id": row["id"], "received_ms": row["received_ms"], "topic": row["topic"],
        "reason": row["reason"], "size": row["size"],
        "payload": bytes(row["payload"]).decode("utf-8", errors="replace"),
    }
