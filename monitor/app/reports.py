"""Session reports and threshold what-ifs: gathers what the review needs, then numpy.

A report is built from the stored readings, alarms with their histories,
notes, and the clinical workflow's record (the infusion, scores, adverse
events and fit to leave). Once a session's readings age out (retention), the
report kept at that moment is what remains; the workflow's record does not
age out, so it is always read afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from monitor.app.counters import now_ms
from monitor.app.ports import RecordStore, VitalsStore
from monitor.app.session_service import SessionBook
from monitor.app.what_if import WhatIfWorker
from monitor.domain.infusion import InfusionEvent, InfusionRecord
from monitor.domain.limits import Profile, Rule
from monitor.domain.readings import Reading
from monitor.domain.replay import discharge_ready_ms
from monitor.domain.review import Series, minutes_outside, peak, series_of, statistics
from monitor.domain.sessions import Session
from monitor.domain.vitals import REGISTRY

PEAK_HIGH = {vital.name: vital.peak == "high" for vital in REGISTRY if vital.peak is not None}
"""The vitals a report gives a peak for: True for the highest value, False for the lowest."""


class Reports:
    """Builds, keeps and compares session reports."""

    def __init__(self, store: RecordStore, vitals: VitalsStore, sessions: SessionBook,
                 what_ifs: WhatIfWorker, describe: Callable[[Session], dict[str, Any]]) -> None:
        """``describe`` gives a session as the report shows it (the API's session shape)."""
        self._describe = describe
        self._store = store
        self._vitals = vitals
        self._sessions = sessions
        self._what_ifs = what_ifs

    async def close(self) -> None:
        """Stop the what-if worker."""
        await self._what_ifs.close()

    async def session(self, session_id: str) -> Session:
        """A session by id.

        Raises:
            UnknownSessionError: No session has that id.
        """
        return await self._sessions.get(session_id)

    async def readings(self, session: Session) -> list[Reading]:
        """The session's stored readings, in time order."""
        return await self._vitals.session_readings(session.id)

    async def report(self, session_id: str) -> dict[str, Any]:
        """The kept report of a session whose readings aged out, else a fresh one.

        Raises:
            UnknownSessionError: No session has that id.
        """
        session = await self._sessions.get(session_id)
        kept = await self._store.saved_report(session_id)
        if kept is None:
            return await self.build(session)
        return {**kept, **await self.care(session)}

    async def build(self, session: Session) -> dict[str, Any]:
        """A fresh report from what is stored now."""
        readings = await self.readings(session)
        data = series_of(readings)
        infusion_ms = session.phase_started_ms.get("infusion")
        alarms = await self._alarms(session)
        spans = [(a["raised_ms"], a["cleared_ms"]) for a in alarms]
        ready = discharge_ready_ms(session, self._sessions.profile_of(session),
                                   readings, spans)
        return {
            "session": self._describe(session),
            "generated_ms": now_ms(),
            "readings": len(readings),
            "vitals": {vital: statistics(s) for vital, s in data.items()},
            "baseline": dict(session.baseline),
            "peaks": _peaks(data, session.baseline, infusion_ms),
            "limits": [row for row, _ in self._limits(session)],
            "outside_limits": self._outside(session, data),
            "alarms": alarms,
            "discharge": _discharge(session, ready),
            "notes": await self._store.notes(session.id),
            **await self.care(session),
        }

    async def care(self, session: Session) -> dict[str, Any]:
        """What the nurse recorded: the infusion, scores, adverse events and fit to leave.

        ``fit_to_leave`` holds the signed checklist, or the admin override
        that ended the session without one (from the audit log).
        """
        events = await self._store.infusion_events(session.id)
        checklist = await self._store.checklist(session.id)
        overrides = [{"at_ms": entry["at_ms"], "user": entry["user"],
                      "reason": entry["detail"]["override_reason"]}
                     for entry in await self._store.audit_log(session.id)
                     if entry["action"] == "phase" and "override_reason" in entry["detail"]]
        return {
            "infusion": _infusion(session, events),
            "assessments": [{"at_ms": a.at_ms, "scale": a.scale, "value": a.value, "user": a.user}
                            for a in await self._store.assessments(session.id)],
            "adverse_events": [
                {"at_ms": e.at_ms, "kind": e.kind, "severity": e.severity,
                 "intervention": dict(e.intervention), "outcome": e.outcome, "note": e.note,
                 "user": e.user}
                for e in await self._store.adverse_events(session.id)],
            "fit_to_leave": {
                "checklist": None if checklist is None else {
                    "at_ms": checklist.at_ms, "user": checklist.user, "scale": checklist.scale,
                    "score": checklist.score, "escort": checklist.escort,
                    "nausea": checklist.nausea, "vitals": checklist.vitals},
                "override": overrides[-1] if overrides else None,
            },
        }

    def _limits(self, session: Session) -> list[tuple[dict[str, Any], Rule]]:
        """The limits in force (profile, overrides and baseline applied), with their rules.

        A limit relative to the baseline holds from the infusion's start,
        when the baseline is fixed.
        """
        rows = []
        for vital, conditions in self._sessions.profile_of(session).by_vital.items():
            for code, rules in conditions.items():
                for rule in rules:
                    limit = rule.limit_for(session.baseline)
                    if limit is not None:
                        rows.append(({"code": code, "vital": vital, "when": rule.when,
                                      "limit": limit, "priority": rule.priority,
                                      "relative": rule.limit is None}, rule))
        return rows

    def _outside(self, session: Session, data: Mapping[str, Series]) -> list[dict[str, Any]]:
        return [{**{k: row[k] for k in ("code", "vital", "when", "limit", "priority")},
                 "minutes": minutes_outside(data[row["vital"]], rule, row["limit"])}
                for row, rule in self._limits(session) if row["vital"] in data]

    async def _alarms(self, session: Session) -> list[dict[str, Any]]:
        timeline = []
        for alarm in sorted(await self._store.alarms(session_id=session.id),
                            key=lambda a: a.raised_ms):
            history = await self._store.alarm_history(alarm.id)
            cleared = [h["at_ms"] for h in history if h["transition"] == "cleared"]
            acked = alarm.acknowledged_ms
            timeline.append({
                "id": alarm.id, "kind": alarm.kind, "code": alarm.code, "vital": alarm.vital,
                "priority": alarm.priority, "state": alarm.state, "value": alarm.value,
                "onset_value": alarm.onset_value, "worst_value": alarm.worst_value,
                "limit": alarm.limit, "raised_ms": alarm.raised_ms,
                "cleared_ms": cleared[-1] if cleared else None,
                "acknowledged_by": alarm.acknowledged_by, "acknowledged_ms": acked,
                "time_to_ack_s": (None if acked is None
                                  else round((acked - alarm.raised_ms) / 1000, 1)),
                "paged": sorted({h["user"] for h in history if h["transition"] == "paged"}),
            })
        return timeline

    async def keep_all_ended(self) -> None:
        """Keep the report of every ended session that has none kept yet.

        Run before pruning: a reading's age is its device time, which need
        not match the session's, so every ended session is kept first.
        """
        for session in await self._store.sessions():
            if not session.is_open and await self._store.saved_report(session.id) is None:
                await self._store.save_report(session.id, now_ms(), await self.build(session))

    async def what_if(self, profile: Profile, sessions: Sequence[Session]) -> dict[str, Any]:
        """Alarms each session raised, beside what ``profile`` would have raised.

        Raises:
            WhatIfBusyError: Too many what-ifs are waiting for the worker.
        """
        would_raise = await self._what_ifs.replay(profile, sessions)
        rows = []
        for session, would in zip(sessions, would_raise, strict=True):
            raised: dict[str, dict[str, int]] = {}
            for alarm in await self._store.alarms(session_id=session.id):
                if alarm.kind == "physiological":
                    by_priority = raised.setdefault(alarm.code, {})
                    by_priority[alarm.priority] = by_priority.get(alarm.priority, 0) + 1
            rows.append({"session_id": session.id, "patient_ref": session.patient_ref,
                         "profile": session.profile, "raised": raised,
                         "would_raise": would})
        return {"profile": profile.name, "sessions": rows,
                "total_raised": _total(r["raised"] for r in rows),
                "total_would_raise": _total(r["would_raise"] for r in rows)}


def _total(counts: Any) -> dict[str, int]:  # noqa: ANN401 - an iterable of nested counts
    total: dict[str, int] = {}
    for by_code in counts:
        for by_priority in by_code.values():
            for priority, n in by_priority.items():
                total[priority] = total.get(priority, 0) + n
    return total


def _peaks(data: Mapping[str, Series], baseline: Mapping[str, float],
           infusion_ms: int | None) -> dict[str, Any]:
    if infusion_ms is None:
        return {}
    peaks = {}
    for vital, highest in PEAK_HIGH.items():
        found = peak(data[vital], highest=highest, from_ms=infusion_ms) if vital in data else None
        if found is None:
            continue
        base = baseline.get(vital)
        peaks[vital] = {
            **found, "minutes_into_infusion": round((found["at_ms"] - infusion_ms) / 60_000, 1),
            "change_from_baseline": None if base is None else round(found["value"] - base, 1),
        }
    return peaks


def _infusion(session: Session, events: Sequence[InfusionEvent]) -> dict[str, Any] | None:
    """The plan, each event with its rate in mL/h too, and the dose given."""
    if session.plan is None:
        return None
    record = InfusionRecord(session.plan, tuple(events))
    until = record.stopped_ms or session.phase_started_ms.get("ended") or now_ms()
    return {
        "plan": session.plan.as_dict(),
        "state": record.state,
        "started_ms": record.started_ms,
        "stopped_ms": record.stopped_ms,
        "given_mg": round(record.given_mg(until), 1),
        "events": [
            {"at_ms": e.at_ms, "event": e.event, "rate_mg_per_kg_h": e.rate_mg_per_kg_h,
             "rate_ml_per_h": None if e.rate_mg_per_kg_h is None
             else round(session.plan.ml_per_h(e.rate_mg_per_kg_h), 1),
             "user": e.user, "reason": e.reason}
            for e in record.events],
    }


def _discharge(session: Session, ready: int | None) -> dict[str, Any]:
    observation = session.phase_started_ms.get("observation")
    if observation is None:
        return {"ready_ms": None, "minutes_after_infusion": None}
    return {"ready_ms": ready,
            "minutes_after_infusion": None if ready is None
            else round((ready - observation) / 60_000, 1)}
