"""Review arithmetic on hand-made series."""

from __future__ import annotations

import numpy as np

from monitor.domain.readings import BedRef, Reading
from monitor.domain.review import Series, minutes_outside, series_of, statistics
from tests.unit.domain.engine_harness import default_profile

PROFILE = default_profile()
HR_HIGH = PROFILE.rules_for("hr")["hr_high"]


def seconds(values: list[float], start_s: int = 0) -> Series:
    return Series(np.arange(start_s, start_s + len(values), dtype=np.int64) * 1000,
                  np.asarray(values, dtype=np.float64))


def test_statistics() -> None:
    stats = statistics(seconds([float(v) for v in range(1, 101)]))
    assert (stats["n"], stats["min"], stats["max"], stats["median"]) == (100, 1.0, 100.0, 50.5)
    assert (stats["p5"], stats["p95"]) == (6.0, 95.0)  # 5.95 and 95.05, linear interpolation


def test_flagged_and_implausible_values_are_left_out() -> None:
    readings = [Reading(BedRef("s", "b"), "d", n, "", n * 1000, vitals, flags)
                for n, (vitals, flags) in enumerate([({"hr": 70.0}, {}), ({"hr": 350.0}, {}),
                                                     ({"hr": 140.0}, {"hr": "artifact"})])]
    assert list(series_of(readings)["hr"].values) == [70.0]


def test_minutes_outside_counts_time_not_readings_and_not_gaps() -> None:
    hr = seconds([80.0] * 60 + [115.0] * 120 + [80.0] * 60)
    assert minutes_outside(hr, HR_HIGH[0], 110) == 2.0
    gappy = Series(np.array([0, 600_000], dtype=np.int64), np.array([115.0, 80.0]))
    assert minutes_outside(gappy, HR_HIGH[0], 110) == round(5 / 60, 2)  # at most 5 s a value
