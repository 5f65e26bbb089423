"""Infusion sessions and their phases: baseline -> infusion -> observation -> ended."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from monitor.domain.infusion import InfusionPlan
from monitor.domain.readings import BedRef

Phase = Literal["baseline", "infusion", "observation", "ended"]
PHASES: Final[tuple[Phase, ...]] = ("baseline", "infusion", "observation", "ended")


class PhaseError(ValueError):
    """A phase change that the session's current phase does not allow."""


def as_phase(name: str) -> Phase:
    """``name`` as a phase.

    Raises:
        PhaseError: It is not one.
    """
    for phase in PHASES:
        if phase == name:
            return phase
    raise PhaseError(f"{name!r} is not a phase ({', '.join(PHASES)})")


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
        baseline: Median of each vital over the baseline phase (set when
            the infusion starts); relative limits need it.
        warnings: What the pre-start check found (e.g. resting BP high).
        overrides: Per-session rules replacing the profile's, by vital.
        plan: The infusion ordered (weight, drug, dose, duration), if given.
    """

    id: str
    bed: BedRef
    patient_ref: str
    phase: Phase
    phase_started_ms: dict[Phase, int]
    profile: str
    baseline: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    plan: InfusionPlan | None = None

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


RESTING_SBP_WARN: Final = 140.0
RESTING_DBP_WARN: Final = 90.0


def pre_start_warnings(baseline: Mapping[str, float]) -> tuple[str, ...]:
    """The pre-start check: what should make a nurse think before starting the infusion."""
    warnings = []
    sbp, dbp = baseline.get("sbp"), baseline.get("dbp")
    if sbp is None or dbp is None:
        warnings.append("no resting blood pressure measured in the baseline phase")
    elif sbp > RESTING_SBP_WARN or dbp > RESTING_DBP_WARN:
        warnings.append(
            f"resting BP {sbp:.0f}/{dbp:.0f} is above "
            f"{RESTING_SBP_WARN:.0f}/{RESTING_DBP_WARN:.0f}"
        )
    return tuple(warnings)
