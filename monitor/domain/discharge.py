"""Discharge readiness in observation: BP near baseline and SpO2 good, for long enough.

Ready once, for ``hold_ms`` on end, the last blood pressure is within
``bp_band_pct`` of baseline (systolic and diastolic) and the last SpO2 is
above ``spo2_min``. Any reading that breaks either restarts the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

HOLD_MS: Final = 15 * 60 * 1000
BP_BAND_PCT: Final = 20.0
SPO2_MIN: Final = 92.0


@dataclass(slots=True)
class DischargeTracker:
    """Follows one session's readings during observation."""

    baseline: Mapping[str, float]
    hold_ms: int = HOLD_MS
    met_since_ms: int | None = None
    last_bp: tuple[float, float] | None = None
    last_spo2: float | None = None
    reason: str = "waiting for blood pressure and SpO2"

    def _within(self, vital: str, value: float) -> bool:
        base = self.baseline.get(vital)
        return base is not None and abs(value - base) <= base * BP_BAND_PCT / 100

    def on_values(self, vitals: Mapping[str, float], at_ms: int) -> None:
        """Take in a reading's (plausible, unflagged) values at ``at_ms``."""
        if "sbp" in vitals and "dbp" in vitals:
            self.last_bp = (vitals["sbp"], vitals["dbp"])
        if "spo2" in vitals:
            self.last_spo2 = vitals["spo2"]
        problems = []
        if "sbp" not in self.baseline or "dbp" not in self.baseline:
            problems.append("no baseline blood pressure")
        elif self.last_bp is None:
            problems.append("no blood pressure yet")
        elif not (self._within("sbp", self.last_bp[0]) and self._within("dbp", self.last_bp[1])):
            problems.append(
                f"BP {self.last_bp[0]:.0f}/{self.last_bp[1]:.0f} not within "
                f"{BP_BAND_PCT:.0f} % of baseline "
                f"{self.baseline['sbp']:.0f}/{self.baseline['dbp']:.0f}"
            )
        if self.last_spo2 is None:
            problems.append("no SpO2 yet")
        elif self.last_spo2 <= SPO2_MIN:
            problems.append(f"SpO2 {self.last_spo2:.0f} % not above {SPO2_MIN:.0f} %")
        if problems:
            self.met_since_ms = None
            self.reason = "; ".join(problems)
        elif self.met_since_ms is None:
            self.met_since_ms = at_ms
            self.reason = "criteria met"

    def status(self, now_ms: int) -> dict[str, Any]:
        """For the board: ready or not, since when, and why not."""
        held = 0 if self.met_since_ms is None else now_ms - self.met_since_ms
        return {
            "ready": self.met_since_ms is not None and held >= self.hold_ms,
            "met_since_ms": self.met_since_ms,
            "remaining_ms": None if self.met_since_ms is None else max(0, self.hold_ms - held),
            "reason": self.reason,
        }
