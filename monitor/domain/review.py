"""Post-session review with numpy: statistics, time outside limits, peaks.

Everything here works on a session's readings as arrays; nothing here reads
or writes. A value the device flagged, or outside physiological bounds, is
left out, as the alarm engine leaves it out. What alarms a session raised
or would raise, and when it was fit to leave, come from replaying it through
the alarm engine itself (:mod:`monitor.domain.replay`), never from a copy of
its rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from monitor.domain.limits import PLAUSIBLE, Rule
from monitor.domain.readings import CONTINUOUS_VITALS, VITALS, Reading

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

CONTINUOUS_GAP_MS: Final = 5_000
"""A continuous value stands for at most this long (a gap is not time outside a limit)."""
SPOT_GAP_MS: Final = 6 * 60_000
"""A blood pressure stands for at most this long (one NIBP cycle plus grace)."""


@dataclass(frozen=True, slots=True)
class Series:
    """One vital's usable values in time order."""

    t_ms: Ints
    values: Floats


def series_of(readings: Sequence[Reading]) -> dict[str, Series]:
    """Each vital's plausible, unflagged values with their times."""
    out: dict[str, Series] = {}
    for vital in VITALS:
        low, high = PLAUSIBLE[vital]
        picked = [
            (r.ts_ms, r.vitals[vital]) for r in readings
            if vital in r.vitals and vital not in r.flags and low <= r.vitals[vital] <= high
        ]
        if picked:
            t, v = zip(*picked, strict=True)
            order = np.argsort(np.asarray(t, dtype=np.int64), kind="stable")
            out[vital] = Series(np.asarray(t, dtype=np.int64)[order],
                                np.asarray(v, dtype=np.float64)[order])
    return out


def statistics(series: Series) -> dict[str, float | int]:
    """n, min, max, mean, median, p5 and p95."""
    v = series.values
    p5, median, p95 = np.percentile(v, [5, 50, 95])
    return {"n": int(v.size), "min": float(v.min()), "max": float(v.max()),
            "mean": round(float(v.mean()), 1), "median": float(median),
            "p5": round(float(p5), 1), "p95": round(float(p95), 1)}


def _durations(t_ms: Ints, max_gap_ms: int) -> Ints:
    """How long each value stands: until the next one, at most ``max_gap_ms``."""
    following = np.append(t_ms[1:], t_ms[-1] + max_gap_ms)
    return np.minimum(following - t_ms, max_gap_ms)


def _breaches(rule: Rule, values: Floats, limit: float) -> npt.NDArray[np.bool_]:
    compare = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}
    return np.asarray(compare[rule.when](values, limit))


def minutes_outside(series: Series, rule: Rule, limit: float) -> float:
    """Minutes the vital spent beyond ``limit``."""
    gap = CONTINUOUS_GAP_MS if rule.vital in CONTINUOUS_VITALS else SPOT_GAP_MS
    durations = _durations(series.t_ms, gap)
    return round(float(durations[_breaches(rule, series.values, limit)].sum()) / 60_000, 2)


def peak(series: Series, *, highest: bool, from_ms: int) -> dict[str, float] | None:
    """The highest (or lowest) value from ``from_ms`` on, and when."""
    later = series.t_ms >= from_ms
    if not later.any():
        return None
    values, times = series.values[later], series.t_ms[later]
    index = int(np.argmax(values) if highest else np.argmin(values))
    return {"value": float(values[index]), "at_ms": int(times[index])}
