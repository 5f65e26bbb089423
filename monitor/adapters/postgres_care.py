"""PostgreSQL queries of the clinical workflow: infusion events, scores, adverse events, checklist.

:class:`CareQueries` is the part of :class:`monitor.adapters.postgres.PostgresStore`
that keeps what the nurse records beside the vitals, as
:class:`monitor.adapters.sqlite_care.CareQueries` is for SQLite.
"""

from __future__ import annotations

import json

from monitor.adapters.postgres_records import SESSION_ORDER, Queries
from monitor.domain.assessments import AdverseEvent, Assessment
from monitor.domain.discharge import DischargeChecklist
from monitor.domain.infusion import InfusionEvent


class CareQueries(Queries):
    """Infusion events, assessments, adverse events and the fit-to-leave checklist."""

    async def add_infusion_event(self, session_id: str, event: InfusionEvent) -> None:
        """Record what was done to the pump."""
        await self.execute(
            'INSERT INTO infusion_events (session_id, at_ms, "user", event, rate_mg_per_kg_h, '
            "reason) VALUES (%s, %s, %s, %s, %s, %s)",
            (session_id, event.at_ms, event.user, event.event, event.rate_mg_per_kg_h,
             event.reason))

    async def infusion_events(self, session_id: str) -> list[InfusionEvent]:
        """A session's infusion events, oldest first."""
        rows = await self.rows(
            'SELECT at_ms, "user", event, rate_mg_per_kg_h, reason FROM infusion_events '
            "WHERE session_id = %s ORDER BY id", (session_id,))
        return [InfusionEvent(r["at_ms"], r["event"], r["user"], r["rate_mg_per_kg_h"],
                              r["reason"]) for r in rows]

    async def add_assessment(self, session_id: str, assessment: Assessment) -> None:
        """Record a score."""
        await self.execute(
            'INSERT INTO assessments (session_id, at_ms, "user", scale, value) '
            "VALUES (%s, %s, %s, %s, %s)",
            (session_id, assessment.at_ms, assessment.user, assessment.scale, assessment.value))

    async def assessments(self, session_id: str) -> list[Assessment]:
        """A session's scores, oldest first."""
        rows = await self.rows(
            'SELECT at_ms, "user", scale, value FROM assessments WHERE session_id = %s '
            "ORDER BY id", (session_id,))
        return [Assessment(r["at_ms"], r["user"], r["scale"], r["value"]) for r in rows]

    async def add_adverse_event(self, session_id: str, event: AdverseEvent) -> int:
        """Record an adverse event; returns its id (the event's own ``id`` is ignored)."""
        [row] = await self.returning(
            'INSERT INTO adverse_events (session_id, at_ms, "user", kind, severity, '
            "intervention, outcome, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (session_id, event.at_ms, event.user, event.kind, event.severity,
             json.dumps(dict(event.intervention)), event.outcome, event.note))
        return int(row["id"])

    async def adverse_events(self, session_id: str) -> list[AdverseEvent]:
        """A session's adverse events, oldest first."""
        rows = await self.rows(
            'SELECT id, at_ms, "user", kind, severity, intervention, outcome, note '
            "FROM adverse_events WHERE session_id = %s ORDER BY id", (session_id,))
        return [AdverseEvent(r["id"], r["at_ms"], r["user"], r["kind"], r["severity"],
                             json.loads(r["intervention"]), r["outcome"], r["note"])
                for r in rows]

    async def save_checklist(self, session_id: str, checklist: DischargeChecklist) -> None:
        """Keep the signed fit-to-leave checklist (a session has at most one)."""
        await self.execute(
            'INSERT INTO discharge_checklists (session_id, at_ms, "user", scale, score, escort, '
            "nausea, vitals) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (session_id, checklist.at_ms, checklist.user, checklist.scale, checklist.score,
             int(checklist.escort), int(checklist.nausea), checklist.vitals))

    async def checklist(self, session_id: str) -> DischargeChecklist | None:
        """The session's signed checklist, if any."""
        rows = await self.rows(
            'SELECT at_ms, "user", scale, score, escort, nausea, vitals '
            "FROM discharge_checklists WHERE session_id = %s", (session_id,))
        if not rows:
            return None
        row = rows[0]
        return DischargeChecklist(row["at_ms"], row["user"], row["scale"], row["score"],
                                  bool(row["escort"]), bool(row["nausea"]), row["vitals"])

    async def patient_session_ids(self, patient_ref: str) -> list[str]:
        """Ids of the patient's sessions, oldest first."""
        rows = await self.rows(
            f"SELECT id FROM sessions WHERE patient_ref = %s "  # noqa: S608 - fixed order
            f"ORDER BY {SESSION_ORDER}", (patient_ref,))
        return [str(row["id"]) for row in rows]
