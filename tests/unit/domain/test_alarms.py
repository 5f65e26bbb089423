"""The alarm engine over the scenarios nurses know, with injected time."""

from __future__ import annotations

import numpy as np
import pytest

from device_sim.physiology import BASELINE_S, NIBP_CYCLE_S, SESSION_S, Body, Patient
from monitor.domain.limits import ProfileError, load_profiles
from tests.unit.domain.engine_harness import Chair

NURSE_ROUND_S = 600
"""The nurse scores sedation this often, within the 15 min the profile asks for."""
NORMAL_PATIENT = Patient(hr=70, sbp=122, dbp=76, spo2=98, rr=14, etco2=37,
                         sbp_rise=16, dbp_rise=11, hr_rise=9)


def test_a_normal_ketamine_session_raises_no_alarm() -> None:
    chair = Chair(phase="infusion", baseline={"sbp": 122, "dbp": 76})
    rng, body = np.random.default_rng(7), Body(NORMAL_PATIENT)
    for t in range(BASELINE_S, SESSION_S):
        vitals, flags = body.measure(t, rng, nibp=t % NIBP_CYCLE_S == 0)
        chair.feed_all(t, vitals, flags=flags)
        if t % NURSE_ROUND_S == 0:
            chair.assess(t, "moaas", 5)
        if t % 5 == 0:
            chair.tick(t)
    assert chair.events == []


def test_a_hypertensive_surge_raises_medium_then_high_at_the_right_readings() -> None:
    chair = Chair(baseline={"sbp": 125, "dbp": 80})
    bps = [(0, 145, 88), (300, 155, 92), (600, 175, 96), (900, 184, 101), (1200, 170, 95)]
    raised = [chair.feed(t, sbp=sbp, dbp=dbp) for t, sbp, dbp in bps]
    assert [[(e.transition, e.alarm.key, e.alarm.priority) for e in r] for r in raised] == [
        [],
        [("raised", "sbp_high", "medium")],              # 155 > baseline 125 + 20 %
        [],
        [("priority_changed", "sbp_high", "high"),       # 184 >= 180
         ("raised", "dbp_high", "medium")],              # 101 >= 100
        [],                                              # high latches until acknowledged
    ]
    first = raised[1][0].alarm
    assert (first.value, first.limit, first.raised_ms) == (155, 150.0, 300_000)


@pytest.mark.parametrize(("dip_s", "alarms"), [(5, []), (15, [("raised", "spo2_low", "medium")])])
def test_spo2_dip_below_94_alarms_only_when_it_lasts_10_s(
    dip_s: int, alarms: list[tuple[str, str, str]]
) -> None:
    chair = Chair()
    for t in range(30):
        chair.feed(t, spo2=92 if 5 <= t < 5 + dip_s else 97)
        chair.tick(t)
    assert [e for e in chair.seen() if e[0] == "raised"] == alarms


def test_spo2_84_fires_at_once() -> None:
    chair = Chair()
    chair.feed(0, spo2=97)
    assert [(e.alarm.key, e.alarm.priority) for e in chair.feed(1, spo2=84)] == [
        ("spo2_low", "high")]


def test_a_silent_device_raises_stale_then_offline() -> None:
    chair = Chair()
    for t in range(5):
        chair.feed(t, hr=70, spo2=98)
    chair.tick(15)
    assert chair.seen() == []
    chair.tick(20)
    assert chair.seen() == [("raised", "stale:hr", "medium"), ("raised", "stale:spo2", "medium")]
    chair.tick(35)
    assert chair.seen()[2:] == [
        ("raised", "offline", "high"), ("cleared", "stale:hr", "medium"),
        ("cleared", "stale:spo2", "medium")]
    chair.feed(36, hr=70, spo2=98)
    assert ("condition_ended", "offline", "high") in chair.seen()  # latched until acknowledged


def test_offline_by_last_will_is_high_during_infusion_and_medium_otherwise() -> None:
    for phase, priority in (("infusion", "high"), ("observation", "medium")):
        chair = Chair(phase=phase)  # type: ignore[arg-type]
        chair.feed(0, hr=70)
        [event] = chair.engine.on_device_status(online=False, now_ms=1000)
        assert (event.alarm.key, event.alarm.priority) == ("offline", priority)


def test_a_missed_bp_cycle_raises_nibp_overdue() -> None:
    chair = Chair()
    chair.feed(0, sbp=120, dbp=80, map=93)
    for t in range(1, 361):
        chair.feed(t, hr=70)
    chair.tick(360)
    assert chair.seen() == []
    chair.feed(361, hr=70)
    assert chair.seen() == [], "a reading ends technical alarms; the clock raises them"
    chair.tick(361)
    assert chair.seen() == [("raised", "nibp_overdue", "medium")]
    chair.feed(362, sbp=121, dbp=80, map=94)
    assert chair.seen()[-1] == ("cleared", "nibp_overdue", "medium")


def test_artifacts_raise_implausible_never_a_physiological_alarm() -> None:
    chair = Chair()
    for t in range(60):
        chair.feed(t, hr=-1, spo2=101)
    assert chair.seen("physiological") == []
    assert chair.seen() == [("raised", "implausible:hr", "low"),
                            ("raised", "implausible:spo2", "low")]
    chair.feed(61, hr=70, spo2=98)
    assert [e[0] for e in chair.seen()[2:]] == ["cleared", "cleared"]


def test_sensor_off_is_a_technical_alarm_and_its_value_is_not_judged() -> None:
    chair = Chair()
    for t in range(20):
        chair.feed(t, flags={"spo2": "sensor_off"}, spo2=70)
    assert chair.seen() == [("raised", "sensor_off:spo2", "medium")]


def test_high_priority_latches_until_acknowledged() -> None:
    chair = Chair()
    [raised] = chair.feed(0, sbp=190)
    chair.feed(300, sbp=130)
    alarm = chair.open()["sbp_high"]
    assert (alarm.state, alarm.condition_present) == ("active", False)
    events = chair.engine.acknowledge(raised.alarm.id, "nurse-a", 301_000)
    assert [(e.transition, e.alarm.state, e.user) for e in events] == [
        ("acknowledged", "acknowledged", "nurse-a"), ("cleared", "cleared", "nurse-a")]
    assert chair.open() == {}


def test_medium_priority_clears_with_its_condition_after_hysteresis() -> None:
    chair = Chair()
    chair.feed(0, sbp=165)
    chair.feed(300, sbp=157)  # within the 5 mmHg hysteresis of 160
    assert "sbp_high" in chair.open()
    chair.feed(600, sbp=154)
    assert chair.seen()[-1] == ("cleared", "sbp_high", "medium")


def test_acknowledged_condition_reminds_and_a_rise_reactivates() -> None:
    chair = Chair()
    for t in range(11):
        chair.feed(t, hr=115)
    alarm = chair.open()["hr_high"]
    chair.engine.acknowledge(alarm.id, "nurse-a", 11_000)
    for t in range(11, 131):
        chair.feed(t, hr=116)
        assert chair.tick(t) == []
    chair.feed(131, hr=116)
    [reminder] = chair.tick(131)  # 120 s after the acknowledgement
    assert (reminder.transition, reminder.alarm.state) == ("reminder", "active")
    chair.engine.acknowledge(reminder.alarm.id, "nurse-a", 132_000)
    for t in range(133, 144):
        chair.feed(t, hr=125)
    assert chair.open()["hr_high"].state == "active"
    assert chair.open()["hr_high"].priority == "high"


def test_pause_holds_back_lower_alarms_but_a_higher_one_still_fires() -> None:
    chair = Chair()
    for t in range(11):
        chair.feed(t, hr=115)
    hr = chair.open()["hr_high"]
    [paused] = chair.engine.pause(hr.id, "nurse-b", 11_000, seconds=120)
    assert (paused.alarm.state, paused.alarm.paused_until_ms) == ("paused", 131_000)
    [dbp] = chair.feed(20, dbp=102)  # medium: within the pause
    assert dbp.alarm.state == "paused"
    [spo2] = chair.feed(21, spo2=84)  # high: fires regardless
    assert spo2.alarm.state == "active"
    chair.feed(130, hr=115, dbp=102, spo2=84)
    ended = chair.tick(131)
    assert {(e.transition, e.alarm.key, e.alarm.state) for e in ended} == {
        ("pause_ended", "hr_high", "active"), ("pause_ended", "dbp_high", "active")}


def test_ending_the_session_clears_every_alarm() -> None:
    chair = Chair()
    chair.feed(0, sbp=190, spo2=84)
    events = chair.engine.end(5000)
    assert sorted(e.alarm.key for e in events) == ["sbp_high", "spo2_low"]
    assert {e.alarm.state for e in events} == {"cleared"}


def test_a_late_calm_value_is_ignored_but_a_reset_clock_is_followed() -> None:
    chair = Chair()
    chair.feed(100, sbp=190)
    assert chair.feed(101, ts_s=99, late=True, sbp=120) == []
    assert chair.open()["sbp_high"].condition_present
    chair.feed(102, ts_s=10, sbp=120)  # 90 s back, but sent after: the clock was reset
    assert not chair.open()["sbp_high"].condition_present


def test_restored_alarm_stays_while_its_condition_holds() -> None:
    first = Chair()
    for t in range(11):
        first.feed(t, hr=130)
    restored = Chair()
    restored.engine.restore(list(first.open().values()))
    assert restored.feed(12, hr=131) == []
    assert restored.feed(13, hr=80)[0].transition == "condition_ended"


def test_profile_errors_name_the_key() -> None:
    document = {"profiles": {"p": {"vitals": {"hr": {"delay_s": 1, "rules": [
        {"when": ">", "limit": 1, "priority": "urgent"}]}}}}}
    with pytest.raises(ProfileError, match=r"t.toml: profiles.p.vitals.hr.rules.0.priority"):
        load_profiles(document, "t.toml")
    document = {"profiles": {"p": {"vitals": {"hr": {"delay_s": 1, "rules": [
        {"when": ">", "limit": 1, "baseline_pct": 5, "priority": "high"}]}}}}}
    with pytest.raises(ProfileError, match="exactly one of limit and baseline_pct"):
        load_profiles(document, "t.toml")


def test_a_fever_of_39_6_raises_temp_high_at_once_and_38_4_a_medium_one() -> None:
    chair = Chair()
    chair.feed(0, temp=36.9)
    assert chair.feed(60, temp=38.0) == []
    [medium] = chair.feed(120, temp=38.4)
    assert (medium.transition, medium.alarm.key, medium.alarm.priority) == (
        "raised", "temp_high", "medium")
    [high] = chair.feed(180, temp=39.6)
    assert (high.transition, high.alarm.key, high.alarm.priority) == (
        "priority_changed", "temp_high", "high")
    assert (high.alarm.value, high.alarm.limit, high.alarm.kind) == (39.6, 39.0, "physiological")
    assert [(e.alarm.key, e.alarm.priority) for e in Chair().feed(0, temp=39.6)] == [
        ("temp_high", "high")]


def test_hypothermia_raises_temp_low_and_a_temperature_of_20_is_implausible() -> None:
    assert [(e.alarm.key, e.alarm.priority) for e in Chair().feed(0, temp=35.0)] == [
        ("temp_low", "high")]
    assert [(e.alarm.key, e.alarm.priority) for e in Chair().feed(0, temp=35.9)] == [
        ("temp_low", "medium")]
    chair = Chair()
    chair.feed(0, temp=20)
    assert chair.seen() == [("raised", "implausible:temp", "low")]
    assert chair.open()["implausible:temp"].value == 20


def test_a_temperature_is_a_spot_value_that_never_goes_stale() -> None:
    chair = Chair()
    chair.feed(0, hr=70, temp=36.8)
    for t in range(1, 25):
        chair.feed(t, hr=70)
    chair.tick(25)
    assert chair.seen() == []
