"""What-ifs and discharge times come from the live engine, so they agree with the board."""

from __future__ import annotations

from monitor.domain.readings import Reading
from monitor.domain.replay import discharge_ready_ms, replay_alarms
from monitor.domain.sessions import Session
from tests.unit.domain.engine_harness import BED, Chair, default_profile

PROFILE = default_profile()


def session(**phases: int) -> Session:
    return Session("sess", BED, "p-1", "ended", dict(phases), PROFILE.name,  # type: ignore[arg-type]
                   baseline={"sbp": 120, "dbp": 76})


def readings(series: list[dict[str, float]], start_s: int = 0) -> list[Reading]:
    return [Reading(BED, "dev", n, f"t{n}", (start_s + n) * 1000, vitals)
            for n, vitals in enumerate(series)]


def test_a_what_if_counts_what_the_live_engine_raises_hysteresis_and_latching_included() -> None:
    # HR 112 for 15 s, 109 for 3 s (within the 3/min hysteresis), 112 for 15 s, calm,
    # then 125 for 15 s (high) easing to 115 (a latched high, one alarm).
    hr = [80.0] * 5 + [112.0] * 15 + [109.0] * 3 + [112.0] * 15 + [80.0] * 10 \
        + [125.0] * 15 + [115.0] * 15 + [80.0] * 10
    series = [{"hr": value} for value in hr]
    live = Chair(phase="infusion")
    for n, vitals in enumerate(series):
        live.feed_all(n, vitals)
        if live.open().get("hr_high") and not live.open()["hr_high"].condition_present:
            live.engine.acknowledge(live.open()["hr_high"].id, "nurse", n * 1000)
    raised = [e for e in live.events if e.transition == "raised"]
    assert len(raised) == 2
    counts = replay_alarms(session(infusion=0), PROFILE, readings(series))
    assert counts == {"hr_high": {"medium": 1, "high": 1}}


def test_discharge_time_follows_the_live_rule() -> None:
    normal = {"hr": 72.0, "spo2": 98.0, "rr": 14.0}
    series = [normal | ({"sbp": 124.0, "dbp": 78.0} if n % 300 == 0 else {})
              for n in range(45 * 60)]
    observed = session(infusion=0, observation=0)
    assert discharge_ready_ms(observed, PROFILE, readings(series), []) == 30 * 60_000
    standing = [(0, 40 * 60_000)]
    assert discharge_ready_ms(observed, PROFILE, readings(series), standing) == 40 * 60_000
    hr_high_until_20 = [vitals | ({"hr": 125.0} if n < 20 * 60 else {})
                        for n, vitals in enumerate(series)]
    assert discharge_ready_ms(observed, PROFILE, readings(hr_high_until_20), []) == 35 * 60_000
