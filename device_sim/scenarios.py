"""Named scenarios: what goes wrong with a simulated patient or monitor, and when.

Each scenario changes the vitals of one simulated second, or what the device
does with them. Times are simulated seconds from the session start (the
infusion runs from 600 s to 3,000 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

SCENARIOS: Final = (
    "normal", "hypertensive-surge", "desaturation", "bradycardia", "tachycardia",
    "sensor-off", "device-drop", "clock-skew", "duplicates", "malformed",
)

SURGE_PEAK_S: Final = 2400
EPISODE_S: Final = (1800, 1980)
"""When a desaturation, brady- or tachycardia episode runs."""
SENSOR_OFF_S: Final = (1500, 1620)
DROP_S: Final = (1500, 1590)
"""When the device's network is cut, and when it comes back."""
CLOCK_SKEW_S: Final = 420.0
MALFORMED: Final = (
    b'{"v": 1, "device_id": "x", "seq": ',
    b'{"v": 2, "device_id": "x", "seq": 1, "ts": "2026-01-01T00:00:00Z", "vitals": {}}',
    b'{"v": 1, "device_id": "x", "seq": "one", "ts": "2026-01-01T00:00:00Z", "vitals": {}}',
    b'{"v": 1, "device_id": "x", "seq": 1, "ts": "2026-01-01T00:00:00Z", "vitals": {"hr": "x"}}',
    b'{"v": 1, "device_id": "x", "seq": 1, "ts": "2026-01-01T00:00:00Z", "vitals": {"hr": NaN}}',
    b"\xff\xfe\x00garbage",
)


def _bump(t_s: float, peak_s: float, width_s: float) -> float:
    return math.exp(-(((t_s - peak_s) / width_s) ** 2))


def _ramp(t_s: float, window: tuple[int, int], edge_s: float = 30.0) -> float:
    start, end = window
    if t_s <= start or t_s >= end:
        return 0.0
    return min(1.0, (t_s - start) / edge_s, (end - t_s) / edge_s)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One named scenario."""

    name: str

    def alter(self, t_s: float, vitals: dict[str, float], flags: dict[str, str]) -> None:
        """Change the measured values of second ``t_s`` in place."""
        if self.name == "hypertensive-surge" and "sbp" in vitals:
            surge = _bump(t_s, SURGE_PEAK_S, 600)
            vitals["sbp"] = float(round(vitals["sbp"] + 60 * surge))
            vitals["dbp"] = float(round(vitals["dbp"] + 25 * surge))
            vitals["map"] = float(round((vitals["sbp"] + 2 * vitals["dbp"]) / 3))
        elif self.name == "desaturation" and "spo2" in vitals:
            vitals["spo2"] = float(round(vitals["spo2"] - 12 * _ramp(t_s, EPISODE_S)))
        elif self.name == "bradycardia" and "hr" in vitals:
            vitals["hr"] = float(round(vitals["hr"] - (vitals["hr"] - 44) * _ramp(t_s, EPISODE_S)))
        elif self.name == "tachycardia" and "hr" in vitals:
            vitals["hr"] = float(round(vitals["hr"] + (130 - vitals["hr"]) * _ramp(t_s, EPISODE_S)))
        elif self.name == "sensor-off" and SENSOR_OFF_S[0] <= t_s < SENSOR_OFF_S[1]:
            vitals.pop("spo2", None)
            flags["spo2"] = "sensor_off"

    def cut_now(self, t_s: float) -> bool:
        """Whether the device's network is cut at this second (``device-drop``)."""
        return self.name == "device-drop" and t_s == DROP_S[0]

    def silent(self, t_s: float) -> bool:
        """Whether the device cannot send at this second (``device-drop``)."""
        return self.name == "device-drop" and DROP_S[0] <= t_s < DROP_S[1]

    def clock_offset_s(self) -> float:
        """How far the device's clock is off (``clock-skew``)."""
        return CLOCK_SKEW_S if self.name == "clock-skew" else 0.0

    def garble(self, seq: int, rng: np.random.Generator) -> bytes | None:
        """A malformed payload to send instead, now and then (``malformed``)."""
        if self.name == "malformed" and seq % 20 == 19:
            return MALFORMED[int(rng.integers(len(MALFORMED)))]
        return None

    def repeat(self, seq: int) -> bool:
        """Whether to send this reading twice, as a QoS 1 redelivery (``duplicates``)."""
        return self.name == "duplicates" and seq % 10 == 9

    def swap(self, seq: int) -> bool:
        """Whether to hold this reading back and send it after the next (``duplicates``)."""
        return self.name == "duplicates" and seq % 25 == 24
