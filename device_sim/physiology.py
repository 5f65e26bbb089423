"""A simulated patient's vitals through a ketamine session (numpy, no I/O).

Time is simulated seconds since the session began: a baseline stretch, a
40-min infusion, then observation. Ketamine raises blood pressure and heart
rate (mean +16/+11 mmHg), peaking 30-40 min into the infusion and fading
after it ends (back to baseline within about 90 min). Breathing and SpO2
wander slowly; body temperature stays near the patient's own (ketamine does
not change it). Measurements carry noise, motion artefacts and brief SpO2
dropouts, as real bedside monitors do.
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
TEMP_CYCLE_S: Final = 60
"""Seconds between body temperatures (a probe the monitor reads once a minute)."""
DECIMALS: Final = {"temp": 1}
"""Decimals a monitor sends, where not whole numbers."""
ARTIFACT_PER_S: Final = 1 / 900
"""Chance per second that a motion artefact starts (about one per 15 min)."""
DROPOUT_PER_S: Final = 1 / 1200
"""Chance per second that the SpO2 probe loses the signal briefly."""


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
    temp: float = 36.8

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Patient:
        """A plausible adult; about one in five hypertensive at rest."""
        hypertensive = rng.random() < 0.2
        return cls(
            hr=float(np.clip(rng.normal(72, 8), 52, 100)),
            sbp=float(rng.normal(145 if hypertensive else 122, 8)),
            dbp=float(rng.normal(92 if hypertensive else 76, 5)),
            spo2=float(rng.uniform(96.5, 99.5)),
            rr=float(np.clip(rng.normal(14, 2), 10, 20)),
            etco2=float(np.clip(rng.normal(37, 2.5), 30, 44)),
            sbp_rise=float(rng.normal(16, 4)),
            dbp_rise=float(rng.normal(11, 3)),
            hr_rise=float(rng.normal(9, 3)),
            temp=float(np.clip(rng.normal(36.8, 0.25), 36.3, 37.3)),
        )


@dataclass(slots=True)
class Body:
    """The patient's slowly wandering state, advanced one simulated second at a time."""

    patient: Patient
    spo2_drift: float = 0.0
    rr_drift: float = 0.0
    artifact_left_s: int = 0
    dropout_left_s: int = 0

    def measure(
        self, t_s: float, rng: np.random.Generator, *, nibp: bool, temp: bool = False
    ) -> tuple[dict[str, float], dict[str, str]]:
        """Vitals and flags a monitor shows at ``t_s``.

        Blood pressure only when ``nibp``, body temperature only when ``temp``.
        """
        p = self.patient
        effect = ketamine_effect(t_s)
        noise = rng.normal(0.0, 1.0, 9)
        self.spo2_drift = 0.995 * self.spo2_drift + 0.05 * noise[6]
        self.rr_drift = 0.998 * self.rr_drift + 0.03 * noise[7]
        vitals = {
            "hr": p.hr + p.hr_rise * effect + 1.5 * noise[0],
            "spo2": min(100.0, p.spo2 + self.spo2_drift + 0.4 * noise[1]),
            "rr": max(4.0, p.rr + self.rr_drift + 0.8 * noise[2]),
            "etco2": p.etco2 - 0.5 * self.rr_drift + 1.0 * noise[3],
        }
        if nibp:
            sbp = p.sbp + p.sbp_rise * effect + 3.0 * noise[4]
            dbp = p.dbp + p.dbp_rise * effect + 2.0 * noise[5]
            vitals |= {"sbp": sbp, "dbp": dbp, "map": (sbp + 2 * dbp) / 3}
        if temp:
            vitals["temp"] = p.temp + 0.05 * float(rng.normal())
        flags: dict[str, str] = {}
        if self.artifact_left_s == 0 and noise[8] > 0 and rng.random() < 2 * ARTIFACT_PER_S:
            self.artifact_left_s = int(rng.integers(2, 5))
        if self.dropout_left_s == 0 and rng.random() < DROPOUT_PER_S:
            self.dropout_left_s = int(rng.integers(2, 6))
        if self.artifact_left_s:
            self.artifact_left_s -= 1
            vitals["hr"] += float(rng.uniform(15, 40))
            flags["hr"] = "artifact"
        if self.dropout_left_s:
            self.dropout_left_s -= 1
            del vitals["spo2"]
        return {name: float(round(value, DECIMALS.get(name, 0)))
                for name, value in vitals.items()}, flags
