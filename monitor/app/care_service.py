"""What the nurse records beside the vitals: the infusion, scores, adverse events, fit to leave.

Each entry is stored with its user, written to the audit log, and shown on
the board. The infusion's start and stop move the session's phase; a
sedation score can raise ``deep_sedation``; a session's fit-to-leave
checklist is signed only when the patient meets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

from monitor.app.counters import now_ms
from monitor.app.ports import RecordStore
from monitor.app.session_service import SessionService
from monitor.domain.assessments import (
    AdverseEvent,
    AdverseKind,
    Assessment,
    Scale,
    Severity,
    Workflow,
)
from monitor.domain.discharge import DischargeChecklist, DischargeScale, checklist_problems
from monitor.domain.infusion import InfusionError, InfusionEventKind, InfusionRecord
from monitor.domain.sessions import Session


class NotFitToLeaveError(ValueError):
    """A checklist that does not show a patient fit to leave; ``problems`` says why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("not fit to leave: " + "; ".join(problems))
        self.problems = problems


class CareService:
    """Records the infusion, assessments, adverse events and the fit-to-leave checklist."""

    def __init__(self, sessions: SessionService, store: RecordStore, workflow: Workflow) -> None:
        self._sessions = sessions
        self._store = store
        self.workflow = workflow

    async def infusion(
        self, session_id: str, event: InfusionEventKind, user: str, *,
        rate_mg_per_kg_h: float | None = None, reason: str | None = None,
        acknowledge_warnings: bool = False,
    ) -> InfusionRecord:
        """Record what ``user`` did to the pump.

        ``start`` moves a session in baseline to infusion (with its
        pre-start check: ``acknowledge_warnings``); ``stop`` moves a
        session in infusion to observation.

        Raises:
            UnknownSessionError: No session has that id.
            InfusionError: The session has ended, has no infusion plan, or
                the pump's state does not allow the event.
            NeedsAcknowledgementError: Starting with pre-start warnings not
                acknowledged; nothing was recorded.
        """
        session = await self._sessions.get(session_id)
        engine = self._sessions.engine_of(session)
        if engine is None:
            raise InfusionError(f"session {session_id} has ended")
        record = engine.care.infusion
        if record is None:
            raise InfusionError(f"session {session_id} was opened without an infusion plan "
                                "(weight_kg, dose_mg_per_kg, duration_min)")
        now = now_ms()
        record = record.after(event, now, user, rate_mg_per_kg_h=rate_mg_per_kg_h,
                              reason=reason)
        if event == "start" and session.phase == "baseline":
            await self._sessions.advance(session_id, "infusion", user, by_pump=True,
                                         acknowledge_warnings=acknowledge_warnings)
        elif event == "stop" and session.phase == "infusion":
            await self._sessions.advance(session_id, "observation", user, by_pump=True)
        recorded = record.events[-1]
        await self._store.add_infusion_event(session_id, recorded)
        await self._store.audit(now, user, "infusion", session_id, {
            "event": event, "rate_mg_per_kg_h": recorded.rate_mg_per_kg_h, "reason": reason})
        engine.care.infusion = record
        self._show(session)
        return record

    async def assess(self, session_id: str, scale: Scale, value: float, user: str) -> Assessment:
        """Record a score; on an open session a sedation score may raise or end ``deep_sedation``.

        A score of an ended session is kept as a late entry.

        Raises:
            UnknownSessionError: No session has that id.
            AssessmentError: The clinic does not score with that scale, or
                the value is outside it.
        """
        session = await self._sessions.get(session_id)
        assessment = Assessment(now_ms(), user, scale, self.workflow.check(scale, value))
        await self._store.add_assessment(session_id, assessment)
        await self._store.audit(assessment.at_ms, user, "assessment", session_id,
                                {"scale": scale, "value": assessment.value})
        engine = self._sessions.engine_of(session)
        if engine is not None:
            await self._sessions.emit(engine.on_assessment(assessment, assessment.at_ms))
            self._show(session)
        return assessment

    async def adverse_event(
        self, session_id: str, user: str, kind: AdverseKind, severity: Severity, *,
        intervention: Mapping[str, str], outcome: str | None, note: str | None,
    ) -> AdverseEvent:
        """Record an adverse event and what was done about it.

        Raises:
            UnknownSessionError: No session has that id.
        """
        await self._sessions.get(session_id)
        event = AdverseEvent(0, now_ms(), user, kind, severity, dict(intervention), outcome,
                             note)
        event = replace(event, id=await self._store.add_adverse_event(session_id, event))
        await self._store.audit(event.at_ms, user, "adverse_event", session_id,
                                {"id": event.id, "kind": kind, "severity": severity})
        return event

    async def sign_discharge(
        self, session_id: str, user: str, scale: DischargeScale, score: int, *,
        escort: bool, nausea: bool,
    ) -> DischargeChecklist:
        """``user`` signs the fit-to-leave checklist of a session in observation.

        Raises:
            UnknownSessionError: No session has that id.
            NotFitToLeaveError: The score, the escort, nausea or the vital
                signs (the readiness rule) stand in the way; nothing was
                signed.
            ValueError: The session has ended or is signed already.
        """
        session = await self._sessions.get(session_id)
        engine = self._sessions.engine_of(session)
        if engine is None:
            raise ValueError(f"session {session_id} has ended")
        if engine.care.checklist is not None:
            raise ValueError(f"session {session_id} was signed fit to leave by "
                             f"{engine.care.checklist.user} already")
        now = now_ms()
        readiness = engine.board_status(now)["discharge"]
        status: Mapping[str, Any] | None = readiness if isinstance(readiness, Mapping) else None
        problems = checklist_problems(scale, score, escort=escort, nausea=nausea,
                                      clinic_scale=self.workflow.discharge_scale,
                                      readiness=status)
        if problems:
            raise NotFitToLeaveError(problems)
        checklist = DischargeChecklist(now, user, scale, score, escort, nausea,
                                       str(status["reason"]) if status else "")
        await self._store.save_checklist(session_id, checklist)
        await self._store.audit(now, user, "discharge_signed", session_id, asdict(checklist))
        engine.care.checklist = checklist
        await self._sessions.emit(engine.tick(now))
        self._show(session)
        return checklist

    def _show(self, session: Session) -> None:
        engine = self._sessions.engine_of(session)
        if engine is not None:
            self._sessions.show_status(engine)
