"""Routes of the clinical workflow: infusion, assessments, adverse events, fit to leave, series.

Nurses write; every signed-in user reads. Each write is audited with its user.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from monitor.api.deps import Context, Nurse
from monitor.api.session_routes import no_session
from monitor.app.care_service import NotFitToLeaveError
from monitor.app.counters import now_ms
from monitor.app.patients import patient_series
from monitor.app.session_service import NeedsAcknowledgementError, UnknownSessionError
from monitor.domain.assessments import AdverseKind, AssessmentError, Scale, Severity
from monitor.domain.discharge import DischargeScale
from monitor.domain.infusion import InfusionError, InfusionEventKind, InfusionRecord

router = APIRouter(prefix="/api", tags=["clinical workflow"])
T = TypeVar("T")
Text = Annotated[str, Field(min_length=1, max_length=200)]


class InfusionChange(BaseModel):
    """``POST /api/sessions/{id}/infusion``."""

    model_config = ConfigDict(extra="forbid")
    event: InfusionEventKind = Field(description="what was done to the pump")
    rate_mg_per_kg_h: float | None = Field(
        default=None, gt=0, description="start: a rate other than the plan's; rate: the new rate")
    reason: str | None = Field(
        default=None, max_length=500, description="why (required for pause, rate and stop)")
    acknowledge_warnings: bool = Field(
        default=False, description="start: the pre-start check's warnings were seen")


class NewAssessment(BaseModel):
    """``POST /api/sessions/{id}/assessments``."""

    model_config = ConfigDict(extra="forbid")
    scale: Scale = Field(description="the scale scored")
    value: float = Field(description="the score, a whole number within the scale")


class Intervention(BaseModel):
    """What was given for an adverse event."""

    model_config = ConfigDict(extra="forbid")
    drug: Text | None = Field(default=None, description="e.g. ondansetron")
    dose: Text | None = Field(default=None, description="e.g. 4 mg")
    route: Text | None = Field(default=None, description="e.g. IV")


class NewAdverseEvent(BaseModel):
    """``POST /api/sessions/{id}/adverse-events``."""

    model_config = ConfigDict(extra="forbid")
    kind: AdverseKind = Field(description="what happened")
    severity: Severity = Field(description="how bad")
    intervention: Intervention | None = Field(default=None, description="what was given")
    outcome: str | None = Field(default=None, max_length=500, description="how it ended")
    note: str | None = Field(default=None, max_length=2000, description="anything else")


class Checklist(BaseModel):
    """``POST /api/sessions/{id}/discharge``: the fit-to-leave checklist, signed by the caller."""

    model_config = ConfigDict(extra="forbid")
    scale: DischargeScale = Field(description="the clinic's discharge score")
    score: int = Field(ge=0, le=10, description="modified Aldrete or PADSS, 0-10")
    escort: bool = Field(description="an adult escort is present to take the patient home")
    nausea: bool = Field(description="the patient has nausea now")


async def _refusing(work: Callable[[], Coroutine[Any, Any, T]], session_id: str) -> T:
    """Run ``work``, turning the care service's refusals into HTTP errors."""
    try:
        return await work()
    except UnknownSessionError:
        raise no_session(session_id) from None
    except AssessmentError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    except (InfusionError, NeedsAcknowledgementError, NotFitToLeaveError, ValueError) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


def _infusion_message(record: InfusionRecord | None, now: int) -> dict[str, Any]:
    if record is None:
        return {"plan": None, "events": [], "status": None}
    return {"plan": record.plan.as_dict(), "events": [asdict(e) for e in record.events],
            "status": record.status(now)}


@router.post("/sessions/{session_id}/infusion", status_code=status.HTTP_201_CREATED)
async def record_infusion(
    session_id: str, body: InfusionChange, context: Context, user: Nurse
) -> dict[str, Any]:
    """Record a start, pause, resume, rate change or stop of the infusion."""
    record = await _refusing(lambda: context.care.infusion(
        session_id, body.event, user.name, rate_mg_per_kg_h=body.rate_mg_per_kg_h,
        reason=body.reason, acknowledge_warnings=body.acknowledge_warnings), session_id)
    return _infusion_message(record, record.events[-1].at_ms)


@router.get("/sessions/{session_id}/infusion")
async def infusion(session_id: str, context: Context) -> dict[str, Any]:
    """The session's infusion plan, what was done to the pump, and the dose given so far."""
    session = await _refusing(lambda: context.sessions.get(session_id), session_id)
    events = await context.store.infusion_events(session_id)
    record = InfusionRecord(session.plan, tuple(events)) if session.plan else None
    last = events[-1].at_ms if events else 0
    ended = session.phase_started_ms.get("ended")
    return _infusion_message(record, ended or max(last, now_ms()))


@router.post("/sessions/{session_id}/assessments", status_code=status.HTTP_201_CREATED)
async def add_assessment(
    session_id: str, body: NewAssessment, context: Context, user: Nurse
) -> dict[str, Any]:
    """Record a score (sedation, dissociation, nausea, anxiety, drugs given)."""
    scored = await _refusing(
        lambda: context.care.assess(session_id, body.scale, body.value, user.name), session_id)
    return asdict(scored)


@router.get("/sessions/{session_id}/assessments")
async def assessments(session_id: str, context: Context) -> dict[str, Any]:
    """The session's scores, oldest first, and the clinic's scales."""
    await _refusing(lambda: context.sessions.get(session_id), session_id)
    workflow = context.care.workflow
    return {"assessments": [asdict(a) for a in await context.store.assessments(session_id)],
            "sedation_scale": workflow.sedation_scale,
            "dissociation_scale": workflow.dissociation_scale}


@router.post("/sessions/{session_id}/adverse-events", status_code=status.HTTP_201_CREATED)
async def add_adverse_event(
    session_id: str, body: NewAdverseEvent, context: Context, user: Nurse
) -> dict[str, Any]:
    """Record an adverse event and what was done about it."""
    given = body.intervention.model_dump(exclude_none=True) if body.intervention else {}
    event = await _refusing(lambda: context.care.adverse_event(
        session_id, user.name, body.kind, body.severity, intervention=given,
        outcome=body.outcome, note=body.note), session_id)
    return asdict(event)


@router.get("/sessions/{session_id}/adverse-events")
async def adverse_events(session_id: str, context: Context) -> dict[str, Any]:
    """The session's adverse events, oldest first."""
    await _refusing(lambda: context.sessions.get(session_id), session_id)
    return {"adverse_events": [asdict(e) for e in await context.store.adverse_events(session_id)]}


@router.post("/sessions/{session_id}/discharge", status_code=status.HTTP_201_CREATED)
async def sign_discharge(
    session_id: str, body: Checklist, context: Context, user: Nurse
) -> dict[str, Any]:
    """Sign the fit-to-leave checklist; refused (409, naming what fails) unless it is met."""
    checklist = await _refusing(lambda: context.care.sign_discharge(
        session_id, user.name, body.scale, body.score, escort=body.escort,
        nausea=body.nausea), session_id)
    return asdict(checklist)


@router.get("/sessions/{session_id}/discharge")
async def discharge(session_id: str, context: Context) -> dict[str, Any]:
    """The signed fit-to-leave checklist (``checklist`` null until signed)."""
    await _refusing(lambda: context.sessions.get(session_id), session_id)
    checklist = await context.store.checklist(session_id)
    return {"checklist": asdict(checklist) if checklist else None,
            "scale": context.care.workflow.discharge_scale}


PatientRef = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


@router.get("/patients/{patient_ref}")
async def patient(patient_ref: PatientRef, context: Context) -> dict[str, Any]:
    """The patient's series of sessions, oldest first (404 if there is none)."""
    series = await patient_series(context.store, context.vitals, patient_ref)
    if not series:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no sessions of patient {patient_ref}")
    return {"patient_ref": patient_ref, "sessions": series}
