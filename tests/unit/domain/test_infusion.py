"""The infusion record: rates from the plan, the pump's states, the dose given so far."""

from __future__ import annotations

import pytest

from monitor.domain.infusion import InfusionError, InfusionPlan, InfusionRecord

MIN = 60_000
PLAN = InfusionPlan(weight_kg=80, dose_mg_per_kg=0.5, duration_min=40,
                    concentration_mg_per_ml=0.5)


def test_the_plan_gives_the_rate_in_mg_per_kg_per_hour_and_ml_per_hour() -> None:
    assert PLAN.rate_mg_per_kg_h == pytest.approx(0.75)
    assert PLAN.total_mg == pytest.approx(40)
    assert PLAN.ml_per_h(PLAN.rate_mg_per_kg_h) == pytest.approx(120)
    assert PLAN.as_dict()["rate_ml_per_h"] == 120.0


def test_a_plan_run_to_the_end_gives_the_planned_dose() -> None:
    record = InfusionRecord(PLAN).after("start", 0, "nurse").after("stop", 40 * MIN, "nurse",
                                                                      reason="completed")
    assert record.state == "stopped"
    assert record.given_mg(90 * MIN) == pytest.approx(40)
    assert record.status(90 * MIN)["elapsed_min"] == 40.0


def test_a_pause_gives_nothing_and_a_rate_change_counts_from_when_it_was_made() -> None:
    record = (InfusionRecord(PLAN)
              .after("start", 0, "nurse")
              .after("pause", 10 * MIN, "nurse", reason="BP 172/104")
              .after("rate", 15 * MIN, "nurse", rate_mg_per_kg_h=0.375, reason="halve")
              .after("resume", 20 * MIN, "nurse"))
    # 10 min at 0.75 mg/kg/h, then 20 min at 0.375 mg/kg/h, for 80 kg
    assert record.given_mg(40 * MIN) == pytest.approx(80 * (0.75 * 10 + 0.375 * 20) / 60)
    status = record.status(40 * MIN)
    assert status["state"] == "running"
    assert status["rate_mg_per_kg_h"] == 0.375
    assert status["rate_ml_per_h"] == 60.0
    assert status["elapsed_min"] == 40.0


@pytest.mark.parametrize(("events", "wrong", "message"), [
    ((), ("pause", {"reason": "x"}), "cannot pause an infusion that is not started"),
    ((("start", {}),), ("start", {}), "cannot start an infusion that is running"),
    ((("start", {}),), ("stop", {}), "stop needs a reason"),
    ((("start", {}),), ("rate", {"reason": "x"}), "a rate change needs rate_mg_per_kg_h"),
    ((("start", {}),), ("rate", {"reason": "x", "rate_mg_per_kg_h": 50.0}), "outside"),
    ((("start", {}),), ("pause", {"reason": "x", "rate_mg_per_kg_h": 1.0}), "takes no rate"),
    ((("start", {}), ("stop", {"reason": "done"})), ("resume", {}), "that is stopped"),
])
def test_what_the_pump_cannot_do_is_refused_with_the_reason(
    events: tuple[tuple[str, dict[str, object]], ...],
    wrong: tuple[str, dict[str, object]], message: str,
) -> None:
    record = InfusionRecord(PLAN)
    for at, (event, options) in enumerate(events):
        record = record.after(event, at, "nurse", **options)  # type: ignore[arg-type]
    with pytest.raises(InfusionError, match=message):
        record.after(wrong[0], 100, "nurse", **wrong[1])  # type: ignore[arg-type]


def test_an_event_dated_before_the_last_is_refused() -> None:
    record = InfusionRecord(PLAN).after("start", 10 * MIN, "nurse")
    with pytest.raises(InfusionError, match="before the last"):
        record.after("pause", 5 * MIN, "nurse", reason="x")
