"""The simulated patients look like ketamine patients, and a seed fixes them."""

from __future__ import annotations

import json

import numpy as np

from device_sim.device import ChairSpec, Publish, SimulatedMonitor
from device_sim.physiology import (
    BASELINE_S,
    INFUSION_S,
    NIBP_CYCLE_S,
    SESSION_S,
    Body,
    Patient,
    ketamine_effect,
)


def fixed_clock(device: SimulatedMonitor) -> float:
    return 1_795_000_000.0 + device.t_s


def run_bytes(seed: int, seconds: int) -> list[bytes]:
    device = SimulatedMonitor(ChairSpec("s", "b", "d", seed))
    out = []
    for _ in range(seconds):
        out += [e.payload for e in device.step(lambda: fixed_clock(device))
                if isinstance(e, Publish)]
    return out


def test_same_seed_same_session_and_another_seed_another() -> None:
    first, again = run_bytes(5, 900), run_bytes(5, 900)
    assert first == again
    assert len(first) == 900
    assert run_bytes(6, 900) != first


def test_mean_pressor_response_over_200_sessions_is_that_of_ketamine() -> None:
    times = range(0, SESSION_S, NIBP_CYCLE_S)
    sbp_rise, dbp_rise = np.zeros(len(times)), np.zeros(len(times))
    for seed in range(200):
        rng = np.random.default_rng(seed)
        body = Body(Patient.draw(rng))
        values = [body.measure(t, rng, nibp=True)[0] for t in times]
        baseline = [v for t, v in zip(times, values, strict=True) if t < BASELINE_S]
        sbp0 = np.mean([v["sbp"] for v in baseline])
        dbp0 = np.mean([v["dbp"] for v in baseline])
        sbp_rise += np.array([v["sbp"] - sbp0 for v in values]) / 200
        dbp_rise += np.array([v["dbp"] - dbp0 for v in values]) / 200
    peak = int(np.argmax(sbp_rise))
    minutes_into_infusion = (times[peak] - BASELINE_S) / 60
    assert 30 <= minutes_into_infusion <= 40, minutes_into_infusion
    assert 13 <= sbp_rise[peak] <= 19, sbp_rise[peak]
    assert 8 <= dbp_rise[peak] <= 14, dbp_rise[peak]


def test_the_response_fades_within_90_minutes_of_the_infusion_end() -> None:
    end = BASELINE_S + INFUSION_S
    assert ketamine_effect(end) > 0.9
    assert ketamine_effect(end + 90 * 60) < 0.05


def test_artefacts_and_dropouts_happen_and_are_marked() -> None:
    rng, body = np.random.default_rng(3), Body(Patient.draw(np.random.default_rng(3)))
    samples = [body.measure(t, rng, nibp=False) for t in range(20_000)]
    artefacts = sum(1 for _, flags in samples if flags.get("hr") == "artifact")
    dropouts = sum(1 for vitals, _ in samples if "spo2" not in vitals)
    assert 20 < artefacts < 200
    assert 20 < dropouts < 200


def sent_temperatures(use_senml: bool) -> list[tuple[int, float, object]]:
    """(second, value, unit) of each temperature a device sends in its first 10 minutes."""
    device = SimulatedMonitor(ChairSpec("s", "b", "d", 5), use_senml=use_senml)
    temps: list[tuple[int, float, object]] = []
    for t in range(600):
        for emission in device.step(lambda: fixed_clock(device)):
            if not isinstance(emission, Publish):
                continue
            document = json.loads(emission.payload)
            if use_senml:
                temps += [(t, r["v"], r["u"]) for r in document if r.get("n") == "temp"]
            elif "temp" in document["vitals"]:
                temps.append((t, document["vitals"]["temp"], "Cel"))
    return temps


def test_body_temperature_is_sent_every_minute_in_cel_with_one_decimal() -> None:
    for use_senml in (False, True):
        temps = sent_temperatures(use_senml)
        assert [t for t, _, _ in temps] == list(range(0, 600, 60))
        assert {unit for _, _, unit in temps} == {"Cel"}
        assert all(36.0 < value < 37.6 and round(value, 1) == value for _, value, _ in temps)
        assert len({value for _, value, _ in temps}) > 1
