"""Property tests: no input crashes the engine, no alarm without a held breach, and no
device clock delays an alarm."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.domain.alarms import AlarmEvent
from monitor.domain.engine import APNEA_ETCO2, BedEngine
from monitor.domain.limits import PRIORITY_RANK, Rule, is_plausible
from monitor.domain.readings import VITALS
from tests.unit.domain.engine_harness import Chair, default_profile

PROFILE = default_profile()
APNEA = (Rule("apnea", "<", "high", PROFILE.technical.apnea_ms, limit=0.5),)

values = st.one_of(
    st.floats(min_value=-50, max_value=400, allow_nan=False),
    st.sampled_from([0.0, 84.0, 89.9, 90.0, 94.0, 110.0, 120.0, 160.0, 180.0, 101.0]),
)
readings = st.lists(
    st.tuples(
        st.integers(min_value=-2_000, max_value=20_000),  # step in ms; negative: a late reading
        st.dictionaries(st.sampled_from(VITALS), values, max_size=4),
        st.dictionaries(st.sampled_from(VITALS), st.sampled_from(["sensor_off", "artifact"]),
                        max_size=1),
        st.sampled_from(["none", "tick", "ack", "pause", "offline", "online"]),
    ),
    max_size=80,
)


Fed = tuple[int, dict[str, float], int, bool]
"""A reading fed: device ms, judged values, how many events there were after it, late."""


def run(steps: list[tuple[int, dict[str, float], dict[str, str], str]]) -> tuple[
    Chair, list[Fed]
]:
    chair = Chair(baseline={"sbp": 130, "dbp": 80})
    engine: BedEngine = chair.engine
    t_ms, fed = 1000, []
    for step_ms, vitals, flags, action in steps:
        late = step_ms < 0  # sent before the last one, arriving now
        t_ms += max(step_ms, 0)
        now = t_ms
        ts_ms = t_ms + step_ms if late else t_ms
        chair.feed(t_ms / 1000, flags=flags, ts_s=ts_ms / 1000, late=late, **vitals)
        judged = {v: x for v, x in vitals.items() if v not in flags}
        fed.append((ts_ms, judged, len(chair.events), late))
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


def apneic(vitals: dict[str, float]) -> float | None:
    """As the engine sees apnea: 0.0 apneic, 1.0 breathing, None no evidence either way."""
    good = {v: x for v, x in vitals.items() if is_plausible(v, x)}
    if "rr" in good:
        return 0.0 if good["rr"] == 0 else 1.0
    if "etco2" in good:
        return 0.0 if good["etco2"] < APNEA_ETCO2 else 1.0
    return None


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
        rules = APNEA if alarm.code == "apnea" else PROFILE.rules_for(alarm.vital)[alarm.code]
        series: list[tuple[int, float]] = []
        for ts, vitals, events_after, late in fed:
            value = apneic(vitals) if alarm.code == "apnea" else vitals.get(alarm.vital)
            if value is not None and is_plausible(alarm.vital, value) and not late:
                series.append((ts, value))
            if events_after > index:  # this reading raised the event: later ones do not count
                if late and value is not None:  # judged alone, against spot rules
                    assert any(r.delay_ms == 0 and r.priority == alarm.priority
                               and alarm.limit is not None and r.breached_by(value, alarm.limit)
                               for r in rules), (event, value)
                    series = []
                break
        if not series:
            continue
        limit = 0.5 if alarm.code == "apnea" else alarm.limit
        assert limit is not None
        assert any(
            rule.priority == alarm.priority and held(rule, series, series[-1][0], limit)
            for rule in rules
        ), (event, series)


# A device clock: each second it moves by one of these (ms); a step is one drawn value.
clock_steps = st.lists(
    st.one_of(
        st.just(1_000),                                   # on time
        st.just(0),                                       # frozen
        st.integers(min_value=-600_000, max_value=600_000),  # stepped back or forward
        st.integers(min_value=500, max_value=1_500),      # drifting
    ),
    min_size=5, max_size=80,
)
breaches = st.sampled_from([
    ("spo2", 88.0, "spo2_low"), ("spo2", 92.0, "spo2_low"), ("hr", 130.0, "hr_high"),
    ("hr", 45.0, "hr_low"), ("rr", 6.0, "rr_low"), ("etco2", 8.0, "etco2_low"),
    ("rr", 0.0, "apnea"),
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=60), clock_steps, breaches,
       st.integers(min_value=-86_400_000, max_value=86_400_000))
def test_no_device_clock_delays_an_alarm_beyond_its_delay_plus_one_second(
    calm_s: int, steps: list[int], breach: tuple[str, float, str], offset_ms: int
) -> None:
    vital, value, code = breach
    rules = APNEA if code == "apnea" else PROFILE.rules_for(vital)[code]
    delay_ms = min(rule.delay_ms for rule in rules
                   if (limit := rule.limit_for({})) is not None and rule.breached_by(value, limit))
    chair = Chair()
    device_ms = offset_ms
    normal = {"hr": 72.0, "spo2": 98.0, "rr": 14.0, "etco2": 37.0}
    for t in range(calm_s):
        device_ms += 1_000
        chair.feed_all(t, normal, ts_s=device_ms / 1000)
        chair.tick(t)
    start_s = calm_s
    last_s = start_s + delay_ms // 1000 + 1
    for n in range(last_s - start_s + 1):
        device_ms += steps[n % len(steps)]
        chair.feed_all(start_s + n, (normal | {vital: value}), ts_s=device_ms / 1000)
        chair.tick(start_s + n)
    raised = [e for e in chair.events if e.alarm.code == code
              and e.transition in ("raised", "priority_changed")]
    assert raised, (code, steps)
    assert raised[0].alarm.raised_ms <= start_s * 1000 + delay_ms + 1000
