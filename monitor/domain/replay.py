"""Replaying stored readings through the live alarm engine: what-ifs and discharge times.

The what-if asks what a profile *would* have raised over a session's stored
readings. It runs them through :class:`~monitor.domain.engine.BedEngine`,
the code that judges live readings, with the same delays, hysteresis and
latching, so a what-if can never disagree with the board. Time is the
device's (a stored session is a backlog), the phases change when they did,
and a nurse is assumed to acknowledge each alarm as soon as its condition
ends, so that every episode of a latched condition counts once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, Final

from monitor.domain.discharge import DischargeTracker
from monitor.domain.engine import BedEngine
from monitor.domain.limits import PRIORITY_RANK, Profile, is_plausible
from monitor.domain.readings import Reading
from monitor.domain.sessions import Session

TICK_MS: Final = 1_000

Counts = dict[str, dict[str, int]]
"""Alarms by condition code, then by priority: ``{"hr_high": {"medium": 2}}``."""


def replay_alarms(session: Session, profile: Profile, readings: Iterable[Reading]) -> Counts:
    """The physiological alarms ``profile`` raises over ``readings``, at their highest priority."""
    ended = session.phase_started_ms.get("ended")
    ordered = sorted((r for r in readings if ended is None or r.ts_ms <= ended),
                     key=lambda r: r.ts_ms)
    if not ordered:
        return {}
    phases = sorted((at, phase) for phase, at in session.phase_started_ms.items()
                    if phase != "ended")
    ids = (f"r{n}" for n in itertools.count())
    first_phase = phases[0][1] if phases else "baseline"
    live = replace(session, phase=first_phase,
                   phase_started_ms={p: at for at, p in phases[:1]},
                   baseline=session.baseline if first_phase != "baseline" else {})
    engine = BedEngine(live, profile, now_ms=ordered[0].ts_ms, new_id=lambda: next(ids))
    highest: dict[str, tuple[str, str]] = {}
    counts: Counts = {}

    def take(events: Sequence[Any], now_ms: int) -> None:
        for event in events:
            alarm = event.alarm
            if alarm.kind != "physiological":
                continue
            if event.transition in ("raised", "priority_changed", "condition_returned"):
                code, priority = highest.get(alarm.id, (alarm.code, alarm.priority))
                if PRIORITY_RANK[alarm.priority] >= PRIORITY_RANK[priority]:
                    priority = alarm.priority
                highest[alarm.id] = (code, priority)
            if event.transition == "condition_ended":
                take(engine.acknowledge(alarm.id, "replay", now_ms), now_ms)
            elif event.transition == "cleared" and alarm.id in highest:
                code, priority = highest.pop(alarm.id)
                by_priority = counts.setdefault(code, {})
                by_priority[priority] = by_priority.get(priority, 0) + 1

    next_phase = 1
    last_tick = ordered[0].ts_ms
    for reading in ordered:
        now = reading.ts_ms
        while next_phase < len(phases) and phases[next_phase][0] <= now:
            at, phase = phases[next_phase]
            next_phase += 1
            live = replace(live, phase=phase, baseline=session.baseline,
                           phase_started_ms={**live.phase_started_ms, phase: at})
            take(engine.update_session(live, profile, at), at)
        while now - last_tick >= TICK_MS:
            last_tick += TICK_MS
            take(engine.tick(last_tick), last_tick)
        take(engine.on_reading(reading, now), now)
    end = ordered[-1].ts_ms + 1
    take(engine.end(end), end)
    return counts


def discharge_ready_ms(
    session: Session,
    profile: Profile,
    readings: Iterable[Reading],
    alarm_spans: Sequence[tuple[int, int | None]],
) -> int | None:
    """When the session was first fit to leave, by the rule the board shows live.

    ``alarm_spans`` are the (raised, cleared) times of the session's stored
    alarms (None: never cleared): discharge is never ready while one stands.
    """
    observation = session.phase_started_ms.get("observation")
    if observation is None:
        return None
    timings = profile.technical
    tracker = DischargeTracker(session.baseline, observation,
                               min_observation_ms=timings.min_observation_ms,
                               hold_ms=timings.discharge_hold_ms)
    ended = session.phase_started_ms.get("ended")
    for reading in sorted(readings, key=lambda r: r.ts_ms):
        now = reading.ts_ms
        if now < observation or (ended is not None and now > ended):
            continue
        tracker.on_values({v: x for v, x in reading.vitals.items()
                           if v not in reading.flags and is_plausible(v, x)}, now)
        standing = any(start <= now and (end is None or now < end) for start, end in alarm_spans)
        if tracker.status(now, ["alarm"] if standing else [])["ready"]:
            return now
    return None
