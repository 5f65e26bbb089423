"""SQLite queries of the clinical workflow: infusion events, scores, adverse events, checklist.

:class:`CareQueries` is the part of :class:`monitor.adapters.sqlite.SqliteStore`
that keeps what the nurse records beside the vitals; like the rest it runs
everything through ``call``, on the store's thread.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

from monitor.domain.assessments import AdverseEvent, Assessment
from monitor.domain.discharge import DischargeChecklist
from monitor.domain.infusion import InfusionEvent

T = TypeVar("T")


class CareQueries(ABC):
    """Infusion events, assessments, adverse events and the fit-to-leave checklist."""

    @abstractmethod
    async def call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function(connection)`` on the store's thread."""

    async def add_infusion_event(self, session_id: str, event: InfusionEvent) -> None:
        """Record what was done to the pump."""
        row = (session_id, event.at_ms, event.user, event.event, event.rate_mg_per_kg_h,
               event.reason)
        await self.call(lambda db: db.execute(
            "INSERT INTO infusion_events (session_id, at_ms, user, event, rate_mg_per_kg_h, "
            "reason) VALUES (?, ?, ?, ?, ?, ?)", row))

    async def infusion_events(self, session_id: str) -> list[InfusionEvent]:
        """A session's infusion events, oldest first."""
        rows = await self.call(lambda db: db.execute(
            "SELECT at_ms, user, event, rate_mg_per_kg_h, reason FROM infusion_events "
            "WHERE session_id = ? ORDER BY id", (session_id,)).fetchall())
        return [InfusionEvent(r["at_ms"], r["event"], r["user"], r["rate_mg_per_kg_h"],
                              r["reason"]) for r in rows]

    async def add_assessment(self, session_id: str, assessment: Assessment) -> None:
        """Record a score."""
        row = (session_id, assessment.at_ms, assessment.user, assessment.scale, assessment.value)
        await self.call(lambda db: db.execute(
            "INSERT INTO assessments (session_id, at_ms, user, scale, value) "
            "VALUES (?, ?, ?, ?, ?)", row))

    async def assessments(self, session_id: str) -> list[Assessment]:
        """A session's scores, oldest first."""
        rows = await self.call(lambda db: db.execute(
            "SELECT at_ms, user, scale, value FROM assessments WHERE session_id = ? "
            "ORDER BY id", (session_id,)).fetchall())
        return [Assessment(r["at_ms"], r["user"], r["scale"], r["value"]) for r in rows]

    async def add_adverse_event(self, session_id: str, event: AdverseEvent) -> int:
        """Record an adverse event; returns its id (the event's own ``id`` is ignored)."""
        row = (session_id, event.at_ms, event.user, event.kind, event.severity,
               json.dumps(dict(event.intervention)), event.outcome, event.note)

        def insert(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO adverse_events (session_id, at_ms, user, kind, severity, "
                "intervention, outcome, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            return int(cursor.lastrowid or 0)
        return await self.call(insert)

    async def adverse_events(self, session_id: str) -> list[AdverseEvent]:
        """A session's adverse events, oldest first."""
        rows = await self.call(lambda db: db.execute(
            "SELECT id, at_ms, user, kind, severity, intervention, outcome, note "
            "FROM adverse_events WHERE session_id = ? ORDER BY id", (session_id,)).fetchall())
        return [AdverseEvent(r["id"], r["at_ms"], r["user"], r["kind"], r["severity"],
                             json.loads(r["intervention"]), r["outcome"], r["note"])
                for r in rows]

    async def save_checklist(self, session_id: str, checklist: DischargeChecklist) -> None:
        """Keep the signed fit-to-leave checklist (a session has at most one)."""
        row = (session_id, checklist.at_ms, checklist.user, checklist.scale, checklist.score,
               int(checklist.escort), int(checklist.nausea), checklist.vitals)
        await self.call(lambda db: db.execute(
            "INSERT INTO discharge_checklists (session_id, at_ms, user, scale, score, escort, "
            "nausea, vitals) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row))

    async def checklist(self, session_id: str) -> DischargeChecklist | None:
        """The session's signed checklist, if any."""
        row = await self.call(lambda db: db.execute(
            "SELECT at_ms, user, scale, score, escort, nausea, vitals FROM discharge_checklists "
            "WHERE session_id = ?", (session_id,)).fetchone())
        if row is None:
            return None
        return DischargeChecklist(row["at_ms"], row["user"], row["scale"], row["score"],
                                  bool(row["escort"]), bool(row["nausea"]), row["vitals"])

    async def patient_session_ids(self, patient_ref: str) -> list[str]:
        """Ids of the patient's sessions, oldest first."""
        rows = await self.call(lambda db: db.execute(
            "SELECT id FROM sessions WHERE patient_ref = ? ORDER BY rowid", (patient_ref,)
        ).fetchall())
        return [str(row[0]) for row in rows]
