import itertools
import tomllib
from pathlib import Path

import pytest

from monitor.domain.alarms import AlarmEvent, BedAlarms, evaluate, restore
from monitor.domain.limits import Profile, ProfileError, load_profiles
from monitor.domain.readings import BedRef, Reading

BED = BedRef("s", "b")
THRESHOLDS = Path(__file__).parents[3] / "config" / "thresholds.toml"


@pytest.fixture(scope="module")
def profile() -> Profile:
    document = tomllib.loads(THRESHOLDS.read_text())
    return load_profiles(document, str(THRESHOLDS))["ketamine-default"]


class Run:
    """Feeds readings at 1 Hz of device time through the engine."""

    def __init__(self, profile: Profile, session_id: str | None = "sess") -> None:
        self.profile = profile
        self.session_id = session_id
        self.state = BedAlarms()
        self.seq = itertools.count()
        self.ids = (f"alarm-{n}" for n in itertools.count(1))

    def feed(self, t_s: float, **vitals: float) -> list[AlarmEvent]:
        seq = next(self.seq)
        reading = Reading(BED, "dev", seq, f"t{t_s}", int(t_s * 1000), dict(vitals))
        self.state, events = evaluate(
            self.profile, self.state, reading, self.session_id, lambda: next(self.ids)
        )
        return events


def test_a_spot_bp_of_190_raises_a_high_alarm_at_once(profile: Profile) -> None:
    run = Run(profile)
    [event] = run.feed(0, sbp=190, dbp=95)
    assert event.transition == "raised"
    alarm = event.alarm
    assert (alarm.code, alarm.priority, alarm.state, alarm.value, alarm.limit) == (
        "sbp_high", "high", "active", 190, 180)


def test_hr_must_stay_above_the_limit_for_its_delay(profile: Profile) -> None:
    run = Run(profile)
    events = [run.feed(t, hr=115) for t in range(10)]
    assert all(not e for e in events), "nothing before 10 s"
    [event] = run.feed(10, hr=115)
    assert (event.alarm.code, event.alarm.priority) == ("hr_high", "medium")


def test_a_dip_shorter_than_the_delay_raises_nothing(profile: Profile) -> None:
    run = Run(profile)
    events = [run.feed(t, spo2=92) for t in range(5)] + [run.feed(5, spo2=97)]
    events += [run.feed(t, spo2=92) for t in range(6, 12)]
    assert not any(events)


def test_priority_rises_then_the_alarm_clears(profile: Profile) -> None:
    run = Run(profile)
    assert run.feed(0, sbp=165)[0].alarm.priority == "medium"
    [rise] = run.feed(300, sbp=185)
    assert (rise.transition, rise.alarm.priority) == ("priority_changed", "high")
    [clear] = run.feed(600, sbp=140)
    assert (clear.transition, clear.alarm.state) == ("cleared", "cleared")
    assert clear.alarm.id == rise.alarm.id
    assert run.state.active() == []


def test_readings_without_the_vital_leave_its_alarm_alone(profile: Profile) -> None:
    run = Run(profile)
    run.feed(0, sbp=190)
    assert not run.feed(1, hr=70)
    assert [a.code for a in run.state.active()] == ["sbp_high"]


def test_spo2_below_85_fires_with_no_delay(profile: Profile) -> None:
    [event] = Run(profile).feed(0, spo2=84)
    assert (event.alarm.code, event.alarm.priority) == ("spo2_low", "high")


def test_no_session_no_physiological_alarm(profile: Profile) -> None:
    assert not Run(profile, session_id=None).feed(0, sbp=220)


def test_implausible_and_flagged_values_are_not_judged(profile: Profile) -> None:
    run = Run(profile)
    for t in range(30):
        assert not run.feed(t, hr=0, spo2=101)
    reading = Reading(BED, "dev", 99, "t", 40_000, {"spo2": 70}, {"spo2": "sensor_off"})
    _, events = evaluate(profile, run.state, reading, "sess")
    assert not events


def test_an_older_value_does_not_move_its_alarm_back(profile: Profile) -> None:
    run = Run(profile)
    run.feed(10, sbp=190)
    assert not run.feed(5, sbp=120)
    assert run.state.active()


def test_a_value_older_than_other_vitals_is_still_judged(profile: Profile) -> None:
    run = Run(profile)
    run.feed(10, hr=70)
    [event] = run.feed(9.99, sbp=192)
    assert event.alarm.code == "sbp_high"


def test_restored_alarm_stays_while_its_condition_holds(profile: Profile) -> None:
    run = Run(profile)
    [raised] = [run.feed(t, hr=130) for t in range(11)][-1]
    restored = Run(profile)
    restored.state = restore(profile, [raised.alarm])
    assert not restored.feed(12, hr=131)
    assert restored.feed(13, hr=80)[0].transition == "cleared"


def test_profile_errors_name_the_key() -> None:
    document = {"profiles": {"p": {"vitals": {"hr": {"delay_s": 1, "rules": [
        {"when": ">", "limit": 1, "priority": "urgent"}]}}}}}
    with pytest.raises(ProfileError, match=r"t.toml: profiles.p.vitals.hr.rules.0.priority"):
        load_profiles(document, "t.toml")
