"""What the nurse has recorded of an open session that its tile and its alarms need.

The infusion record (for the dose given so far), when sedation was last
scored (for the assessment schedule) and the signed fit-to-leave checklist
(which ends the schedule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from monitor.domain.assessments import SEDATION_SCALES, Assessment
from monitor.domain.discharge import DischargeChecklist
from monitor.domain.infusion import InfusionEvent, InfusionRecord
from monitor.domain.sessions import Session


@dataclass(slots=True)
class SessionCare:
    """The care record of one open session, as it stands."""

    infusion: InfusionRecord | None = None
    last_sedation_ms: int | None = None
    checklist: DischargeChecklist | None = None

    @classmethod
    def of(
        cls, session: Session, events: Iterable[InfusionEvent] = (),
        assessments: Iterable[Assessment] = (), checklist: DischargeChecklist | None = None,
    ) -> SessionCare:
        """The care record of a stored session."""
        care = cls(InfusionRecord(session.plan, tuple(events)) if session.plan else None,
                   checklist=checklist)
        for assessment in assessments:
            care.scored(assessment)
        return care

    def scored(self, assessment: Assessment) -> None:
        """Take in a score: a sedation score completes the round that was due."""
        if assessment.scale in SEDATION_SCALES:
            self.last_sedation_ms = max(self.last_sedation_ms or assessment.at_ms,
                                        assessment.at_ms)

    def assessment_due_ms(self, session: Session, interval_ms: int) -> int | None:
        """When the next round is due.

        That is ``interval_ms`` after the last sedation score, or after the
        infusion's start; None before the infusion and once the patient is
        fit to leave.
        """
        started = session.phase_started_ms.get("infusion")
        if started is None or self.checklist is not None or not session.is_open:
            return None
        last = self.last_sedation_ms
        return (last if last is not None and last >= started else started) + interval_ms

    def status(self, now_ms: int, due_ms: int | None, overdue: bool) -> dict[str, Any]:
        """For the bed's tile: the infusion so far, the next assessment, the checklist."""
        checklist = self.checklist
        return {
            "infusion": self.infusion.status(now_ms) if self.infusion else None,
            "assessment_due_ms": due_ms,
            "assessment_overdue": overdue,
            "fit_to_leave": None if checklist is None
            else {"user": checklist.user, "at_ms": checklist.at_ms},
        }
