"""Infusion sessions and their phases: baseline -> infusion -> observation -> ended."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

from monitor.domain.readings import BedRef

Phase = Literal["baseline", "infusion", "observation", "ended"]
PHASES: Final[tuple[Phase, ...]] = ("baseline", "infusion", "observation", "ended")


class PhaseError(ValueError):
    """A phase change that the session's current phase does not allow."""


@dataclass(frozen=True, slots=True)
class Session:
    """One patient's infusion at one bed.

    Attributes:
        id: The session's id.
        bed: The chair.
        patient_ref: A pseudonymous patient reference (never a name).
        phase: The current phase.
        phase_started_ms: When each phase began, Unix ms, by phase.
        profile: The threshold profile the session's alarms use.
    """

    id: str
    bed: BedRef
    patient_ref: str
    phase: Phase
    phase_started_ms: dict[Phase, int]
    profile: str

    @property
    def is_open(self) -> bool:
        """Whether the session still watches its patient."""
        return self.phase != "ended"

    def advance(self, phase: Phase, at_ms: int) -> Session:
        """The session moved to ``phase`` at ``at_ms``.

        Phases only go forward, one step at a time; ``ended`` may come from
        any phase (a session stopped early).

        Raises:
            PhaseError: The move is not allowed from the current phase.
        """
        current = PHASES.index(self.phase)
        wanted = PHASES.index(phase)
        if self.phase == "ended":
            raise PhaseError(f"session {self.id} has ended")
        if wanted != current + 1 and phase != "ended":
            raise PhaseError(
                f"session {self.id} is in {self.phase}; next is {PHASES[current + 1]} or ended, "
                f"not {phase}"
            )
        return replace(self, phase=phase, phase_started_ms={**self.phase_started_ms, phase: at_ms})
