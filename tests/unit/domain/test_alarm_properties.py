"""Property tests: no input crashes the engine, and no alarm without a held breach."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.domain.alarms import AlarmEvent
from monitor.domain.engine import BedEngine
from monitor.domain.limits import PRIORITY_RANK, Rule, is_plausible
from monitor.domain.readings import VITALS
from tests.unit.domain.engine_harness import Chair, default_profile

PROFILE = default_profile()

values = st.one_of(
    st.floats(min_value=-50, max_value=400, allow_nan=False),
    st.sampled_from([0.0, 84.0, 89.9, 90.0, 94.0, 110.0, 120.0, 160.0, 180.0, 101.0]),
)
readings = st.lists(
    st.tuples(
        st.integers(min_value=-2_000, max_value=20_000),  # step in ms; negative: late reading
        st.dictionaries(st.sampled_from(VITALS), values, max_size=4),
        st.dictionaries(st.sampled_from(VITALS), st.sampled_from(["sensor_off", "artifact"]),
                        max_size=1),
        st.sampled_from(["none", "tick", "ack", "pause", "offline", "online"]),
    ),
    max_size=80,
)


Fed = tuple[int, dict[str, float], int]
"""A reading fed: device ms, judged values, and how many events there were after it."""


def run(steps: list[tuple[int, dict[str, float], dict[str, str], str]]) -> tuple[
    Chair, list[Fed]
]:
    chair = Chair(baseline={"sbp": 130, "dbp": 80})
    engine: BedEngine = chair.engine
    t_ms, fed = 1000, []
    for step_ms, vitals, flags, action in steps:
        t_ms = max(0, t_ms + step_ms)
        now = t_ms
        chair.feed(t_ms / 1000, flags=flags, **vitals)
        judged = {v: x for v, x in vitals.items() if v not in flags}
        fed.append((t_ms, judged, len(chair.events)))
        alarms = list(engine.alarms.values())
        if action == "tick":
            chair.events += engine.tick(now)
        elif action == "ack" and alarms:
            chair.events += engine.acknowledge(alarms[0].id, "n", now)
        elif action == "pause" and alarms:
            chair.events += engine.pause(alarms[-1].id, "n", now, 30)
        elif action in ("offline", "online"):
            chair.events += engine.on_device_status(action == "online", now)
    return chair, fed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings)
def test_no_sequence_crashes_the_engine_and_its_state_stays_consistent(
    steps: list[tuple[int, dict[str, float], dict[str, str], str]],
) -> None:
    chair, _ = run(steps)
    for key, alarm in chair.engine.alarms.items():
        assert key == alarm.key
        assert alarm.state in ("active", "acknowledged", "paused")
        assert alarm.condition_present or alarm.priority == "high" or alarm.kind == "technical"
    assert all(e.alarm.state == "cleared" for e in chair.events if e.transition == "cleared")


def held(rule: Rule, series: list[tuple[int, float]], at_ms: int, limit: float) -> bool:
    """Whether every value of the vital in the last ``delay`` before ``at_ms`` breached."""
    start = None
    for ts, value in series:
        if ts > at_ms:
            break
        breached = rule.breached_by(value, limit)
        start = (start if start is not None else ts) if breached else None
    return start is not None and at_ms - start >= rule.delay_ms


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings)
def test_no_physiological_alarm_without_a_breach_held_for_its_delay(
    steps: list[tuple[int, dict[str, float], dict[str, str], str]],
) -> None:
    chair, fed = run(steps)
    rising: list[tuple[int, AlarmEvent]] = [
        (index, e) for index, e in enumerate(chair.events)
        if e.alarm.kind == "physiological" and e.transition in ("raised", "priority_changed")
    ]
    last_rank: dict[str, int] = {}
    for index, event in rising:
        alarm = event.alarm
        rank = PRIORITY_RANK[alarm.priority]
        if event.transition == "priority_changed" and rank < last_rank.get(alarm.key, 0):
            last_rank[alarm.key] = rank
            continue
        last_rank[alarm.key] = rank
        assert alarm.vital is not None
        rules = PROFILE.rules_for(alarm.vital)[alarm.code]
        series: list[tuple[int, float]] = []
        latest = -1
        for ts, vitals, events_after in fed:
            value = vitals.get(alarm.vital)
            if value is not None and is_plausible(alarm.vital, value) and ts >= latest:
                series.append((ts, value))
                latest = ts
            if events_after > index:  # this reading raised the event: later ones do not count
                break
        assert any(
            rule.priority == alarm.priority and alarm.limit is not None
            and held(rule, series, series[-1][0], alarm.limit)
            for rule in rules
        ), (event, series)
