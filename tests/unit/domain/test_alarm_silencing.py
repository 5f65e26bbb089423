"""Situations in which the engine once stayed quiet while a patient deteriorated.

Each test names the item of the issue it reproduces ("Alarms that cannot be
silenced"); each failed on the engine before it was fixed.
"""

from __future__ import annotations

import math

import pytest

from monitor.domain.limits import ProfileError, load_profiles
from tests.unit.domain.engine_harness import Chair, default_profile

NORMAL = {"hr": 72.0, "spo2": 98.0, "rr": 14.0, "etco2": 37.0}


def raised(chair: Chair) -> dict[str, str]:
    """Open alarms by key, with their priority."""
    return {key: alarm.priority for key, alarm in chair.open().items()}


# 1. Apnea and extreme values are physiology, not artefact


def test_apnea_raises_a_high_apnea_alarm_within_its_delay_not_implausible() -> None:
    chair = Chair()
    for t in range(10):
        chair.feed_all(t, NORMAL)
    for t in range(10, 40):
        chair.feed(t, hr=72, spo2=97, rr=0, etco2=0)
        if ("raised", "apnea", "high") in chair.seen():
            break
    assert ("raised", "apnea", "high") in chair.seen()
    assert t <= 10 + 20 + 1
    assert not [key for key in chair.open() if key.startswith("implausible")]


def test_low_etco2_with_no_respiratory_rate_is_apnea() -> None:
    chair = Chair()
    for t in range(25):
        chair.feed(t, hr=72, spo2=97, etco2=3)
    assert raised(chair).get("apnea") == "high"


@pytest.mark.parametrize(("vitals", "expected"), [
    ({"hr": 0}, {"hr_low": "high"}),
    ({"hr": 18}, {"hr_low": "high"}),
    ({"spo2": 45}, {"spo2_low": "high"}),
    ({"sbp": 38, "dbp": 14}, {"sbp_low": "high", "dbp_low": "high"}),
    ({"map": 45}, {"map_low": "high"}),
    ({"hr": 185}, {"hr_high": "high"}),
])
def test_extreme_values_a_patient_can_have_are_high_physiological_alarms(
    vitals: dict[str, float], expected: dict[str, str]
) -> None:
    chair = Chair(baseline={"sbp": 120, "dbp": 76})
    for t in range(15):
        chair.feed_all(t, vitals)
    assert raised(chair) == expected


@pytest.mark.parametrize("vitals", [{"spo2": 101}, {"hr": -1}, {"hr": 350}, {"sbp": 400}])
def test_values_no_patient_can_have_are_implausible_and_never_judged(
    vitals: dict[str, float],
) -> None:
    chair = Chair()
    for t in range(15):
        chair.feed_all(t, vitals)
    [(vital, _)] = vitals.items()
    assert raised(chair) == {f"implausible:{vital}": "low"}


def test_an_extreme_value_flagged_as_artefact_is_not_judged() -> None:
    chair = Chair()
    for t in range(15):
        chair.feed(t, flags={"hr": "artifact"}, hr=0)
    assert chair.seen("physiological") == []


# 2. A high alarm stays high until acknowledged


@pytest.mark.parametrize(("vital", "values", "delay_s"), [
    ("sbp", (185, 165, 140), 0),
    ("hr", (130, 115, 90), 10),
    ("dbp", (111, 103, 80), 0),
])
def test_a_high_alarm_does_not_step_down_or_clear_without_acknowledgement(
    vital: str, values: tuple[float, float, float], delay_s: int
) -> None:
    chair = Chair(baseline={"sbp": 150, "dbp": 95})
    t = 0
    for value in values:
        for _ in range(delay_s + 2):
            chair.feed_all(t, {vital: value})
            t += 1
        alarm = chair.open()[f"{vital}_high"]
        assert (alarm.priority, alarm.state) == ("high", "active"), value
    assert not alarm.condition_present
    onset, _, eased = values
    assert (alarm.onset_value, alarm.worst_value, alarm.value) == (onset, onset, eased)
    events = chair.engine.acknowledge(alarm.id, "nurse-a", t * 1000)
    assert [e.transition for e in events] == ["acknowledged", "cleared"]


def test_acknowledging_a_high_alarm_whose_condition_eased_keeps_it_at_the_present_level() -> None:
    chair = Chair()
    chair.feed(0, sbp=185)
    chair.feed(300, sbp=165)
    alarm = chair.open()["sbp_high"]
    [ack] = chair.engine.acknowledge(alarm.id, "nurse-a", 301_000)
    assert (ack.alarm.state, ack.alarm.priority) == ("acknowledged", "medium")
    [rise] = chair.feed(600, sbp=186)
    assert (rise.transition, rise.alarm.state, rise.alarm.priority) == (
        "priority_changed", "active", "high")
    assert rise.alarm.worst_value == 186


# 3. Pauses are short and never hide a new high condition


def test_a_pause_is_refused_beyond_max_pause_s() -> None:
    chair = Chair()
    for t in range(12):
        chair.feed(t, hr=115)
    alarm = chair.open()["hr_high"]
    with pytest.raises(ValueError, match="at most 120 s"):
        chair.engine.pause(alarm.id, "nurse-b", 12_000, seconds=600)


def test_a_paused_high_alarm_does_not_hide_a_new_high_condition() -> None:
    chair = Chair()
    for t in range(12):
        chair.feed(t, hr=130)
    hr = chair.open()["hr_high"]
    chair.engine.pause(hr.id, "nurse-b", 12_000, seconds=120)
    [spo2] = chair.feed(13, spo2=84)
    assert (spo2.alarm.key, spo2.alarm.priority, spo2.alarm.state) == (
        "spo2_low", "high", "active")


def test_a_pause_cap_above_300_s_is_refused_in_a_profile() -> None:
    document = {"profiles": {"p": {
        "technical": {"max_pause_s": 600},
        "vitals": {"hr": {"delay_s": 1, "rules": [
            {"when": ">", "limit": 120, "priority": "high"}]}}}}}
    with pytest.raises(ProfileError, match="max_pause_s"):
        load_profiles(document, "t.toml")


# 4. A reminder sounds again


def test_a_reminder_reactivates_the_acknowledged_alarm_after_reminder_s() -> None:
    chair = Chair()
    for t in range(12):
        chair.feed(t, hr=115)
    alarm = chair.open()["hr_high"]
    chair.engine.acknowledge(alarm.id, "nurse-a", 12_000)
    reminders = []
    for t in range(12, 140):
        chair.feed(t, hr=115)
        reminders += [e for e in chair.tick(t) if e.transition == "reminder"]
    assert [(e.alarm.state, e.at_ms or e.alarm.updated_ms) for e in reminders] == [
        ("active", 132_000)]


# 5. No blood pressure at all is overdue too


def test_nibp_overdue_fires_when_no_bp_ever_arrived_in_the_infusion() -> None:
    chair = Chair(phase="infusion")
    for t in range(0, 400):
        chair.feed_all(t, NORMAL)
        chair.tick(t)
    assert ("raised", "nibp_overdue", "medium") in chair.seen()
    assert chair.seen()[0] == ("raised", "nibp_overdue", "medium")


def test_nibp_overdue_is_not_raised_in_the_baseline_phase() -> None:
    chair = Chair(phase="baseline")
    for t in range(0, 400):
        chair.feed_all(t, NORMAL)
        chair.tick(t)
    assert chair.seen() == []


# 6. A late reading is judged for spot values and critical limits


def test_a_late_critical_spo2_is_judged() -> None:
    chair = Chair()
    chair.feed(10, spo2=97, sbp=120)
    events = chair.feed(11, ts_s=8, late=True, spo2=84)
    assert [(e.alarm.key, e.alarm.priority) for e in events] == [("spo2_low", "high")]


def test_a_late_spot_blood_pressure_is_judged() -> None:
    chair = Chair()
    chair.feed(10, spo2=97)
    events = chair.feed(11, ts_s=5, late=True, sbp=190, dbp=100)
    assert {e.alarm.key: e.alarm.priority for e in events} == {
        "sbp_high": "high", "dbp_high": "medium"}


# 7. Device clocks


def test_a_reading_stamped_ahead_does_not_mute_what_follows() -> None:
    chair = Chair()
    chair.feed(0, spo2=97)
    chair.feed(1, ts_s=51, spo2=97)
    for t in range(2, 22):
        chair.feed(t, spo2=80)
    assert raised(chair)["spo2_low"] == "high"


def test_a_frozen_device_clock_does_not_stop_condition_delays() -> None:
    chair = Chair()
    first = None
    for t in range(0, 30):
        events = chair.feed(t, ts_s=0, spo2=88)
        if first is None and any(e.alarm.key == "spo2_low" for e in events):
            first = t
    assert first is not None
    assert first <= 11
    assert raised(chair)["spo2_low"] == "high"


def test_a_device_clock_far_from_the_monitors_raises_clock_offset() -> None:
    chair = Chair()
    for t in range(0, 20):
        chair.feed_all(t, NORMAL, ts_s=t + 45)
        chair.tick(t)
    assert raised(chair) == {"clock_offset": "low"}
    for t in range(20, 25):
        chair.feed_all(t, NORMAL)
    assert "clock_offset" not in chair.open()


def test_a_backlog_is_judged_on_the_device_clock() -> None:
    chair = Chair()
    # 15 s of SpO2 92 recorded by the device, delivered within 150 ms after a reconnect
    for n in range(16):
        chair.feed(100 + n * 0.01, ts_s=80 + n, spo2=92)
    assert raised(chair).get("spo2_low") == "medium"


# 9. Overrides are validated


@pytest.mark.parametrize(("document", "field"), [
    ({"delay_s": 0, "rules": [{"when": "<", "limit": math.nan, "priority": "high"}]}, "limit"),
    ({"delay_s": 1e12, "rules": [{"when": "<", "limit": 90, "priority": "high"}]}, "delay_s"),
    ({"delay_s": 0, "rules": [{"when": "<", "limit": -5, "priority": "high"}]}, "limit"),
    ({"delay_s": 0, "rules": [{"when": "<", "baseline_pct": -1e308, "priority": "high"}]},
     "baseline_pct"),
    ({"delay_s": math.inf, "rules": [{"when": "<", "limit": 90, "priority": "high"}]},
     "delay_s"),
    ({"delay_s": 0, "rules": [{"when": "<", "limit": 90, "priority": "high",
                               "delay_s": 301}]}, "delay_s"),
])
def test_an_override_out_of_bounds_is_refused_naming_the_field(
    document: dict[str, object], field: str
) -> None:
    with pytest.raises(ProfileError, match=field):
        default_profile().with_overrides({"spo2": document})


def test_contradictory_rules_are_refused() -> None:
    document = {"delay_s": 10, "rules": [
        {"when": ">", "limit": 40, "priority": "high"},
        {"when": "<", "limit": 150, "priority": "high"}]}
    with pytest.raises(ProfileError, match=r"contradict"):
        default_profile().with_overrides({"hr": document})


# 10. Discharge readiness


def observe(chair: Chair, minutes: float, *, start_s: int = 0, bp: tuple[float, float] = (
        124, 78), vitals: dict[str, float] | None = None) -> int:
    """Feed ``minutes`` of observation at 1 Hz with a BP every 5 min; returns the end."""
    t = start_s
    for t in range(start_s, start_s + round(minutes * 60)):
        values = {**NORMAL, **(vitals or {})}
        if t % 300 == 0:
            values |= {"sbp": bp[0], "dbp": bp[1], "map": round((bp[0] + 2 * bp[1]) / 3)}
        chair.feed_all(t, values)
        if t % 5 == 0:
            chair.tick(t)
    return t


def ready(chair: Chair, t_s: int) -> bool:
    status = chair.engine.board_status(t_s * 1000)["discharge"]
    assert isinstance(status, dict)
    return bool(status["ready"])


def test_discharge_needs_30_min_of_observation() -> None:
    chair = Chair(phase="observation", baseline={"sbp": 120, "dbp": 76})
    end = observe(chair, 29)
    assert not ready(chair, end)
    end = observe(chair, 2, start_s=end + 1)
    assert ready(chair, end)


@pytest.mark.parametrize(("bp", "vitals"), [
    ((182, 112), {}),
    ((124, 78), {"hr": 125}),
    ((124, 78), {"rr": 7}),
    ((124, 78), {"spo2": 93}),
])
def test_discharge_is_never_ready_outside_the_criteria(
    bp: tuple[float, float], vitals: dict[str, float]
) -> None:
    chair = Chair(phase="observation", baseline={"sbp": 120, "dbp": 76})
    end = observe(chair, 45, bp=bp, vitals=vitals)
    assert not ready(chair, end)


def test_discharge_is_never_ready_while_the_device_is_offline() -> None:
    chair = Chair(phase="observation", baseline={"sbp": 120, "dbp": 76})
    end = observe(chair, 31)
    assert ready(chair, end)
    chair.engine.on_device_status(online=False, now_ms=(end + 1) * 1000)
    assert not ready(chair, end + 1)


def test_discharge_is_never_ready_while_an_alarm_stands() -> None:
    chair = Chair(phase="observation", baseline={"sbp": 120, "dbp": 76})
    end = observe(chair, 31)
    for t in range(end + 1, end + 400):  # no BP for 400 s: nibp_overdue
        chair.feed_all(t, NORMAL)
        chair.tick(t)
    assert list(chair.open()) == ["nibp_overdue"]
    assert not ready(chair, end + 399)


# 11. Ending a session names who cleared its alarms


def test_ending_records_the_user_on_each_cleared_alarm() -> None:
    chair = Chair()
    chair.feed(0, sbp=190, spo2=84)
    events = chair.engine.end(5000, "nurse-a")
    assert {(e.alarm.key, e.user) for e in events} == {
        ("sbp_high", "nurse-a"), ("spo2_low", "nurse-a")}


# 12. Rules that were missing


@pytest.mark.parametrize(("feed", "baseline", "expected"), [
    ({"map": 62}, {}, {"map_low": "medium"}),
    ({"map": 53}, {}, {"map_low": "high"}),
    ({"dbp": 45}, {}, {"dbp_low": "high"}),
    ({"sbp": 115}, {"sbp": 160}, {"sbp_low": "medium"}),   # -28 %
    ({"sbp": 100}, {"sbp": 160}, {"sbp_low": "high"}),     # -37.5 %
    ({"etco2": 62}, {}, {"etco2_high": "high"}),
])
def test_spot_and_relative_rules(
    feed: dict[str, float], baseline: dict[str, float], expected: dict[str, str]
) -> None:
    chair = Chair(baseline=baseline)
    for t in range(31):
        chair.feed_all(t, feed)
    assert raised(chair) == expected


def test_a_respiratory_rate_below_8_is_high_within_20_s() -> None:
    chair = Chair()
    fired = None
    for t in range(0, 60):
        events = chair.feed(t, rr=6)
        if fired is None and any(e.alarm.priority == "high" for e in events):
            fired = t
    assert fired is not None
    assert fired <= 21
    assert raised(chair) == {"rr_low": "high"}


def test_a_respiratory_rate_below_10_is_medium_within_30_s() -> None:
    chair = Chair()
    for t in range(0, 31):
        chair.feed(t, rr=9)
    assert raised(chair) == {"rr_low": "medium"}
