"""Discharge readiness in observation: vital signs within the criteria, for long enough.

Ready when all of these hold:

- the session has been in observation for ``min_observation_ms`` (30 min);
- no alarm of the bed stands and its device is online (the engine passes
  what stands in the way as ``blockers``);
- for the last ``hold_ms`` (15 min), every reading was within the criteria:
  SBP and DBP within +-20 % of baseline and below 160/100; HR 50-110;
  RR 10-24; SpO2 >= 94 %. A value outside them restarts the hold; a vital
  never seen in observation is missing, and missing is never normal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from monitor.domain.vitals import BY_NAME

BP_BAND_PCT: Final = 20.0
BP_CEILING: Final[Mapping[str, float]] = {"sbp": 160.0, "dbp": 100.0}
RANGES: Final[Mapping[str, tuple[float, float]]] = {
    "hr": (50.0, 110.0),
    "rr": (10.0, 24.0),
    "spo2": (94.0, 100.0),
}
NAMES: Final[Mapping[str, str]] = {vital: BY_NAME[vital].label for vital in RANGES}


@dataclass(slots=True)
class DischargeTracker:
    """Follows one session's readings during observation."""

    baseline: Mapping[str, float]
    observation_ms: int
    min_observation_ms: int = 30 * 60_000
    hold_ms: int = 15 * 60_000
    met_since_ms: int | None = None
    last: dict[str, float] = field(default_factory=dict)
    reason: str = "waiting for blood pressure, HR, RR and SpO2"

    def _problems(self) -> list[str]:
        problems = []
        sbp, dbp = self.last.get("sbp"), self.last.get("dbp")
        if "sbp" not in self.baseline or "dbp" not in self.baseline:
            problems.append("no baseline blood pressure")
        elif sbp is None or dbp is None:
            problems.append("no blood pressure in observation yet")
        elif not all(self._bp_ok(vital, value) for vital, value in (("sbp", sbp), ("dbp", dbp))):
            problems.append(
                f"BP {sbp:.0f}/{dbp:.0f} not within {BP_BAND_PCT:.0f} % of baseline "
                f"{self.baseline['sbp']:.0f}/{self.baseline['dbp']:.0f} and below "
                f"{BP_CEILING['sbp']:.0f}/{BP_CEILING['dbp']:.0f}"
            )
        for vital, (low, high) in RANGES.items():
            value = self.last.get(vital)
            if value is None:
                problems.append(f"no {NAMES[vital]} in observation yet")
            elif not low <= value <= high:
                problems.append(f"{NAMES[vital]} {value:.0f} outside {low:.0f}-{high:.0f}")
        return problems

    def _bp_ok(self, vital: str, value: float) -> bool:
        base = self.baseline[vital]
        return abs(value - base) <= base * BP_BAND_PCT / 100 and value < BP_CEILING[vital]

    def on_values(self, vitals: Mapping[str, float], at_ms: int) -> None:
        """Take in a reading's (plausible, unflagged) values received at ``at_ms``."""
        changed = False
        for vital in ("sbp", "dbp", *RANGES):
            if vital in vitals:
                self.last[vital] = vitals[vital]
                changed = True
        if not changed:
            return
        problems = self._problems()
        if problems:
            self.met_since_ms = None
            self.reason = "; ".join(problems)
        elif self.met_since_ms is None:
            self.met_since_ms = at_ms
            self.reason = "criteria met"

    def status(self, now_ms: int, blockers: list[str]) -> dict[str, Any]:
        """For the board: ready or not, how long until it may be, and why not."""
        held = 0 if self.met_since_ms is None else now_ms - self.met_since_ms
        observed = now_ms - self.observation_ms
        remaining = max(0, self.min_observation_ms - observed)
        if self.met_since_ms is not None:
            remaining = max(remaining, self.hold_ms - held)
        if blockers:
            reason = "; ".join(blockers)
        elif self.met_since_ms is None:
            reason = self.reason
        elif remaining:
            reason = "criteria met; observing"
        else:
            reason = "criteria met"
        return {
            "ready": not blockers and self.met_since_ms is not None and remaining == 0,
            "met_since_ms": self.met_since_ms,
            "remaining_ms": None if self.met_since_ms is None or blockers else remaining,
            "reason": reason,
        }


DischargeScale = Literal["aldrete", "padss"]
FIT_TO_LEAVE_SCORE: Final = 9
"""Modified Aldrete or PADSS at or above this (out of 10) is fit to leave."""
DISCHARGE_SCALES: Final[Mapping[DischargeScale, str]] = {
    "aldrete": "modified Aldrete score",
    "padss": "PADSS (Post-Anaesthetic Discharge Scoring System)",
}


@dataclass(frozen=True, slots=True)
class DischargeChecklist:
    """The fit-to-leave checklist a named nurse signs.

    Attributes:
        vitals: What the readiness rule said of the vital signs when signed.
    """

    at_ms: int
    user: str
    scale: DischargeScale
    score: int
    escort: bool
    nausea: bool
    vitals: str


def checklist_problems(
    scale: DischargeScale, score: int, *, escort: bool, nausea: bool,
    clinic_scale: DischargeScale, readiness: Mapping[str, Any] | None,
) -> list[str]:
    """What stands between the checklist and a patient fit to leave (empty: nothing).

    ``readiness`` is the readiness rule's status of the session (None when
    it is not in observation).
    """
    problems = []
    if scale != clinic_scale:
        problems.append(f"this clinic scores discharge with {DISCHARGE_SCALES[clinic_scale]}, "
                        f"not {DISCHARGE_SCALES[scale]}")
    elif score < FIT_TO_LEAVE_SCORE:
        problems.append(f"{DISCHARGE_SCALES[scale]} {score} is below {FIT_TO_LEAVE_SCORE}")
    if not escort:
        problems.append("no escort present")
    if nausea:
        problems.append("the patient has nausea")
    if readiness is None:
        problems.append("the session is not in observation")
    elif not readiness["ready"]:
        problems.append(f"vital signs not within the discharge criteria: {readiness['reason']}")
    return problems
