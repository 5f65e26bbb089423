"""A simulated patient's vitals through a ketamine session (numpy, no I/O).

Time is simulated seconds since the session began: a baseline stretch, a
40-min infusion, then observation. Ketamine raises blood pressure and heart
rate, peaking 30-40 min into the infusion and fading after it ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

BASELINE_S: Final = 10 * 60
INFUSION_S: Final = 40 * 60
OBSERVATION_S: Final = 30 * 60
SESSION_S: Final = BASELINE_S + INFUSION_S + OBSERVATION_S
PEAK_S: Final = 35 * 60
"""Time into the infusion at which the pressor response peaks."""
FADE_TAU_S: Final = 25 * 60
NIBP_CYCLE_S: Final = 5 * 60


def phase_at(t_s: float) -> str:
    """The session phase at simulated time ``t_s``."""
    if t_s < BASELINE_S:
        return "baseline"
    if t_s < BASELINE_S + INFUSION_S:
        return "infusion"
    if t_s < SESSION_S:
        return "observation"
    return "ended"


def ketamine_effect(t_s: float) -> float:
    """Fraction (0..1) of the peak pressor response at simulated time ``t_s``."""
    into = t_s - BASELINE_S
    if into <= 0:
        return 0.0
    if into <= INFUSION_S:
        rise = min(into / PEAK_S, 1.0)
        return math.sin(rise * math.pi / 2) ** 2
    return math.exp(-(into - INFUSION_S) / FADE_TAU_S)


@dataclass(frozen=True, slots=True)
class Patient:
    """Resting values and response size of one simulated patient."""

    hr: float
    sbp: float
    dbp: float
    spo2: float
    rr: float
    etco2: float
    sbp_rise: float
    dbp_rise: float
    hr_rise: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Patient:
        """A plausible adult; about one in five hypertensive at rest."""
        hypertensive = rng.random() < 0.2
        return cls(
            hr=float(rng.normal(72, 8)),
            sbp=float(rng.normal(145 if hypertensive else 122, 8)),
            dbp=float(rng.normal(92 if hypertensive else 76, 5)),
            spo2=float(rng.uniform(96.5, 99.5)),
            rr=float(rng.normal(14, 2)),
            etco2=float(rng.normal(37, 2.5)),
            sbp_rise=float(rng.normal(16, 4)),
            dbp_rise=float(rng.normal(11, 3)),
            hr_rise=float(rng.normal(9, 3)),
        )

    def vitals(self, t_s: float, rng: np.random.Generator, *, nibp: bool) -> dict[str, float]:
        """Measured vitals at ``t_s``: the model plus measurement noise.

        Blood pressure is included only when ``nibp`` (a cuff cycle).
        """
        effect = ketamine_effect(t_s)
        noise = rng.normal(0.0, 1.0, 7)
        values = {
            "hr": round(self.hr + self.hr_rise * effect + 1.5 * noise[0]),
            "spo2": round(min(100.0, self.spo2 + 0.4 * noise[1])),
            "rr": round(max(4.0, self.rr + 0.8 * noise[2])),
            "etco2": round(self.etco2 + 1.0 * noise[3]),
        }
        if nibp:
            sbp = self.sbp + self.sbp_rise * effect + 3.0 * noise[4]
            dbp = self.dbp + self.dbp_rise * effect + 2.0 * noise[5]
            values |= {"sbp": round(sbp), "dbp": round(dbp), "map": round((sbp + 2 * dbp) / 3)}
        return {name: float(value) for name, value in values.items()}
