"""A patient's series of sessions: how each went, in the figures a prescriber compares.

Ketamine for mood is given as a series (typically 6-8 sessions); the
prescriber reviews each against the others: the dose, how far blood pressure
and heart rate rose over baseline and when, the alarms, how deep sedation
and dissociation went, what went wrong, and how long the patient took to be
fit to leave after the infusion stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from monitor.domain.alarms import Alarm
from monitor.domain.assessments import (
    DISSOCIATION_SCALES,
    SEDATION_SCALES,
    AdverseEvent,
    Assessment,
)
from monitor.domain.discharge import DischargeChecklist
from monitor.domain.infusion import InfusionEvent, InfusionRecord
from monitor.domain.readings import Reading
from monitor.domain.sessions import Session

PEAK_VITALS: Final = ("sbp", "dbp", "hr")


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """Everything stored of one session that its summary needs."""

    session: Session
    readings: Sequence[Reading]
    alarms: Sequence[Alarm]
    infusion: Sequence[InfusionEvent]
    assessments: Sequence[Assessment]
    adverse_events: Sequence[AdverseEvent]
    checklist: DischargeChecklist | None


def _peak(session: Session, readings: Sequence[Reading], vital: str) -> dict[str, Any] | None:
    """The highest value of ``vital`` from the infusion's start, against the baseline."""
    started = session.phase_started_ms.get("infusion")
    base = session.baseline.get(vital)
    if started is None or base is None:
        return None
    values = [(r.vitals[vital], r.ts_ms) for r in readings
              if r.ts_ms >= started and vital in r.vitals and vital not in r.flags]
    if not values:
        return None
    value, at_ms = max(values, key=lambda pair: pair[0])
    return {"baseline": base, "peak": value, "change": round(value - base, 1),
            "change_pct": round((value - base) / base * 100, 1) if base else None,
            "at_ms": at_ms, "min_after_start": round((at_ms - started) / 60_000, 1)}


def _extreme(assessments: Sequence[Assessment], scales: Sequence[str], *,
             lowest: bool) -> dict[str, Any] | None:
    scored = [a for a in assessments if a.scale in scales]
    if not scored:
        return None
    chosen = (min if lowest else max)(scored, key=lambda a: a.value)
    return {"scale": chosen.scale, "value": chosen.value, "at_ms": chosen.at_ms}


def session_summary(record: SessionRecord) -> dict[str, Any]:
    """One session of the series, as ``GET /api/patients/{ref}`` gives it."""
    session = record.session
    plan = session.plan
    infusion = InfusionRecord(plan, tuple(record.infusion)) if plan else None
    stopped = (infusion.stopped_ms if infusion else None) or session.phase_started_ms.get(
        "observation")
    alarms: dict[str, int] = {"high": 0, "medium": 0, "low": 0}
    for alarm in record.alarms:
        alarms[alarm.priority] += 1
    checklist = record.checklist
    return {
        "session_id": session.id,
        "site": session.bed.site, "bed": session.bed.bed,
        "started_ms": session.phase_started_ms.get("baseline"),
        "phase": session.phase,
        "plan": plan.as_dict() if plan else None,
        "given_mg": round(infusion.given_mg(stopped), 1) if infusion and stopped else None,
        "peaks": {vital: _peak(session, record.readings, vital) for vital in PEAK_VITALS},
        "alarms": alarms,
        "lowest_sedation": _extreme(record.assessments, SEDATION_SCALES, lowest=True),
        "peak_dissociation": _extreme(record.assessments, DISSOCIATION_SCALES, lowest=False),
        "adverse_events": [{"kind": e.kind, "severity": e.severity, "at_ms": e.at_ms}
                           for e in record.adverse_events],
        "fit_to_leave_ms": checklist.at_ms if checklist else None,
        "min_to_fit_to_leave": round((checklist.at_ms - stopped) / 60_000, 1)
        if checklist and stopped else None,
    }
