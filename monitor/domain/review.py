"""Post-session review with numpy: statistics, time outside limits, discharge, what-if.

Everything here works on a session's readings as arrays; nothing here reads
or writes. A value the device flagged, or outside physiological bounds, is
left out, as the alarm engine leaves it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from monitor.domain.discharge import BP_BAND_PCT, HOLD_MS, SPO2_MIN
from monitor.domain.limits import PLAUSIBLE, PRIORITY_RANK, Priority, Profile, Rule
from monitor.domain.readings import CONTINUOUS_VITALS, VITALS

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


def series_of(readings: Sequence[Mapping[str, Any]], times_ms: Sequence[int]) -> dict[str, Series]:
    """Each vital's plausible, unflagged values with their times."""
    out: dict[str, Series] = {}
    for vital in VITALS:
        low, high = PLAUSIBLE[vital]
        picked = [
            (t, r["vitals"][vital]) for r, t in zip(readings, times_ms, strict=True)
            if vital in r["vitals"] and vital not in (r.get("flags") or {})
            and low <= r["vitals"][vital] <= high
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


def _carry_forward(t_ms: Ints, series: Series | None) -> Floats:
    """The last value of ``series`` at each time in ``t_ms`` (NaN before the first)."""
    if series is None:
        return np.full(t_ms.size, np.nan)
    index = np.searchsorted(series.t_ms, t_ms, side="right") - 1
    carried = series.values[np.clip(index, 0, None)]
    return np.where(index >= 0, carried, np.nan)


def discharge_ready_ms(
    data: Mapping[str, Series], baseline: Mapping[str, float], observation_ms: int
) -> int | None:
    """When the discharge criteria had first held for 15 min in observation, if they did."""
    if "sbp" not in baseline or "dbp" not in baseline:
        return None
    times = np.unique(np.concatenate([s.t_ms for s in data.values()] or [np.empty(0, np.int64)]))
    times = times[times >= observation_ms]
    if times.size == 0:
        return None
    band = BP_BAND_PCT / 100
    ok = np.ones(times.size, dtype=bool)
    for vital in ("sbp", "dbp"):
        last = _carry_forward(times, data.get(vital))
        ok &= np.abs(last - baseline[vital]) <= baseline[vital] * band
    ok &= _carry_forward(times, data.get("spo2")) > SPO2_MIN
    starts = np.flatnonzero(ok & ~np.concatenate([[False], ok[:-1]]))
    ends = np.flatnonzero(ok & ~np.concatenate([ok[1:], [False]]))
    for start, end in zip(starts, ends, strict=True):
        if times[end] - times[start] >= HOLD_MS:
            return int(times[start]) + HOLD_MS
    return None


def would_raise(data: Mapping[str, Series], profile: Profile,
                baseline: Mapping[str, float]) -> dict[str, dict[str, int]]:
    """How many alarms each condition would raise, by priority (code -> priority -> n).

    A rule fires for a run of breaching values that lasts its delay; runs of
    one condition that overlap make one alarm, at the highest priority any of
    its rules reached. Hysteresis and latching are left out: this counts
    alarms, it does not replay their lives.
    """
    counts: dict[str, dict[str, int]] = {}
    for vital, conditions in profile.by_vital.items():
        s = data.get(vital)
        if s is None:
            continue
        for code, rules in conditions.items():
            fired = np.zeros(s.t_ms.size, dtype=np.int64)  # highest priority rank firing
            for rule in rules:
                limit = rule.limit_for(baseline)
                if limit is None:
                    continue
                breach = _breaches(rule, s.values, limit)
                starts = np.flatnonzero(breach & ~np.concatenate([[False], breach[:-1]]))
                ends = np.flatnonzero(breach & ~np.concatenate([breach[1:], [False]]))
                for start, end in zip(starts, ends, strict=True):
                    held = s.t_ms[start:end + 1] - s.t_ms[start] >= rule.delay_ms
                    if held.any():
                        first = start + int(np.argmax(held))
                        segment = fired[first:end + 1]
                        np.maximum(segment, PRIORITY_RANK[rule.priority], out=segment)
            _count_runs(fired, code, counts)
    return counts


def _count_runs(fired: Ints, code: str, counts: dict[str, dict[str, int]]) -> None:
    on = fired > 0
    starts = np.flatnonzero(on & ~np.concatenate([[False], on[:-1]]))
    ends = np.flatnonzero(on & ~np.concatenate([on[1:], [False]]))
    names: dict[int, Priority] = {rank: name for name, rank in PRIORITY_RANK.items()}
    for start, end in zip(starts, ends, strict=True):
        priority = names[int(fired[start:end + 1].max())]
        by_priority = counts.setdefault(code, {})
        by_priority[priority] = by_priority.get(priority, 0) + 1
