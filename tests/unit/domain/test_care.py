"""Assessments on a schedule, deep sedation, and the fit-to-leave checklist."""

from __future__ import annotations

import pytest

from monitor.domain.assessments import AssessmentError, Workflow
from monitor.domain.discharge import checklist_problems
from tests.unit.domain.engine_harness import Chair

MIN_S = 60


def overdue(chair: Chair) -> bool:
    return "assessment_overdue" in chair.open()


def test_an_assessment_not_scored_within_its_interval_and_grace_raises_assessment_overdue() -> None:
    chair = Chair(phase="infusion", baseline={"sbp": 120, "dbp": 75})
    chair.feed_all(0, {"hr": 70})
    chair.tick(20 * MIN_S)
    assert not overdue(chair)
    chair.tick(20 * MIN_S + 1)
    assert chair.open()["assessment_overdue"].priority == "low"
    chair.assess(21 * MIN_S, "moaas", 5)
    assert not overdue(chair)
    chair.tick(41 * MIN_S)
    assert not overdue(chair)
    chair.tick(41 * MIN_S + 1)
    assert overdue(chair)


def test_only_a_sedation_score_completes_the_round() -> None:
    chair = Chair(phase="infusion")
    chair.assess(10 * MIN_S, "nausea", 0)
    chair.tick(20 * MIN_S + 1)
    assert overdue(chair)


def test_no_assessment_is_due_before_the_infusion() -> None:
    chair = Chair(phase="baseline")
    chair.tick(60 * MIN_S)
    assert not overdue(chair)


@pytest.mark.parametrize(("scale", "value", "deep"), [
    ("moaas", 2, True), ("moaas", 3, False), ("rass", -3, True), ("rass", -2, False),
])
def test_deep_sedation_is_a_high_alarm_that_latches_until_acknowledged(
    scale: str, value: int, deep: bool
) -> None:
    chair = Chair(phase="infusion")
    chair.assess(60, scale, value)  # type: ignore[arg-type]
    assert ("deep_sedation" in chair.open()) is deep
    if deep:
        alarm = chair.open()["deep_sedation"]
        assert (alarm.priority, alarm.value, alarm.kind) == ("high", value, "physiological")
        chair.assess(120, scale, 5 if scale == "moaas" else 0)  # type: ignore[arg-type]
        latched = chair.open()["deep_sedation"]
        assert not latched.condition_present
        assert latched.worst_value == value


def test_the_clinic_scores_on_its_own_scales_within_their_range() -> None:
    workflow = Workflow(sedation_scale="rass")
    assert workflow.check("rass", -5) == -5
    with pytest.raises(AssessmentError, match="scores sedation with rass, not moaas"):
        workflow.check("moaas", 3)
    with pytest.raises(AssessmentError, match="whole number 0 to 3"):
        workflow.check("nausea", 4)
    with pytest.raises(AssessmentError, match="whole number"):
        workflow.check("anxiety", 2.5)


READY = {"ready": True, "reason": "criteria met"}


def test_a_patient_meeting_every_item_is_fit_to_leave() -> None:
    assert checklist_problems("aldrete", 9, escort=True, nausea=False, clinic_scale="aldrete",
                              readiness=READY) == []


def test_every_unmet_item_is_named() -> None:
    problems = checklist_problems(
        "aldrete", 8, escort=False, nausea=True, clinic_scale="aldrete",
        readiness={"ready": False, "reason": "BP 150/95 not within 20 %"})
    assert problems == [
        "modified Aldrete score 8 is below 9", "no escort present", "the patient has nausea",
        "vital signs not within the discharge criteria: BP 150/95 not within 20 %",
    ]
    assert checklist_problems("padss", 10, escort=True, nausea=False, clinic_scale="aldrete",
                              readiness=None) == [
        "this clinic scores discharge with modified Aldrete score, not PADSS "
        "(Post-Anaesthetic Discharge Scoring System)",
        "the session is not in observation",
    ]
