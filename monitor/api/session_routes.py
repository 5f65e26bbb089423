"""Routes of sessions: open, phases, thresholds, notes, vitals, audit."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.api.deps import Context, Nurse
from monitor.api.messages import Message, alarm_message, reading_record, session_message
from monitor.app.counters import now_ms
from monitor.app.session_service import (
    NeedsAcknowledgementError,
    NeedsChecklistError,
    SessionConflictError,
    UnknownSessionError,
)
from monitor.domain.infusion import InfusionPlan
from monitor.domain.limits import ProfileError, VitalDoc, VitalName
from monitor.domain.readings import BedRef
from monitor.domain.sessions import Phase, PhaseError

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


class CreateSession(BaseModel):
    """``POST /api/sessions``."""

    model_config = ConfigDict(extra="forbid")
    site: str = Field(pattern=NAME_PATTERN, description="site, as in the MQTT topic")
    bed: str = Field(pattern=NAME_PATTERN, description="bed, as in the MQTT topic")
    patient_ref: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="pseudonymous reference, never a name"
    )
    profile: str | None = Field(default=None, description="threshold profile; default if unset")
    weight_kg: float | None = Field(default=None, gt=2, le=400, description="patient's weight")
    drug: str = Field(default="ketamine", pattern=NAME_PATTERN, description="the drug infused")
    dose_mg_per_kg: float | None = Field(
        default=None, gt=0, le=5, description="planned dose (0.5 mg/kg is usual)")
    duration_min: float | None = Field(
        default=None, gt=0, le=480, description="planned duration of the infusion (40 min usual)")
    concentration_mg_per_ml: float | None = Field(
        default=None, gt=0, le=100, description="the bag's concentration; the clinic's if unset")
    limits_from_last: bool = Field(
        default=False,
        description="start from the threshold overrides of the patient's last session")

    @model_validator(mode="after")
    def _whole_plan(self) -> CreateSession:
        given = [self.weight_kg, self.dose_mg_per_kg, self.duration_min]
        if any(v is not None for v in given) and any(v is None for v in given):
            raise ValueError("an infusion plan needs weight_kg, dose_mg_per_kg and duration_min "
                             "together")
        return self

    def plan(self, concentration_mg_per_ml: float) -> InfusionPlan | None:
        """The infusion plan given, if any."""
        if self.weight_kg is None or self.dose_mg_per_kg is None or self.duration_min is None:
            return None
        return InfusionPlan(self.weight_kg, self.dose_mg_per_kg, self.duration_min, self.drug,
                            self.concentration_mg_per_ml or concentration_mg_per_ml)


class PhaseChange(BaseModel):
    """``POST /api/sessions/{id}/phase``."""

    model_config = ConfigDict(extra="forbid")
    phase: Phase = Field(description="the phase the session moves to")
    acknowledge_warnings: bool = Field(
        default=False, description="starting the infusion: the pre-start warnings were seen")
    acknowledge_alarms: bool = Field(
        default=False,
        description="ending: acknowledge the bed's standing alarms in the caller's name")
    override_reason: str | None = Field(
        default=None, min_length=3, max_length=500,
        description="ending without a signed fit-to-leave checklist: why (admins only; audited)")


class ThresholdChange(BaseModel):
    """``POST /api/sessions/{id}/thresholds``: one vital's rules for this session."""

    model_config = ConfigDict(extra="forbid")
    vital: VitalName = Field(description="the vital whose rules change")
    rules: VitalDoc | None = Field(description="the new rules; null restores the profile's")

    @model_validator(mode="after")
    def _usable(self) -> ThresholdChange:
        if self.rules is not None:
            problems = self.rules.problems(self.vital)
            if problems:
                raise ValueError("; ".join(f"rules.{problem}" for problem in problems))
        return self


class Note(BaseModel):
    """``POST /api/sessions/{id}/notes``."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000, description="what happened")


def no_session(session_id: str) -> HTTPException:
    """The 404 of a session that does not exist."""
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no session {session_id}")


async def _existing(context: Context, session_id: str) -> None:
    try:
        await context.sessions.get(session_id)
    except UnknownSessionError:
        raise no_session(session_id) from None


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_session(body: CreateSession, context: Context, user: Nurse) -> Message:
    """Open a session at a bed (in its baseline phase)."""
    try:
        session = await context.sessions.create(
            BedRef(body.site, body.bed), body.patient_ref, body.profile, user.name,
            plan=body.plan(context.care.workflow.concentration_mg_per_ml),
            limits_from_last=body.limits_from_last)
    except SessionConflictError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    return session_message(session)


@router.get("")
async def list_sessions(
    context: Context, open_only: Annotated[bool, Query(alias="open")] = False
) -> dict[str, list[Message]]:
    """Every session, oldest first (``?open=true``: only those not ended)."""
    sessions = await context.store.sessions(open_only=open_only)
    return {"sessions": [session_message(s) for s in sessions]}


@router.get("/{session_id}")
async def get_session(session_id: str, context: Context) -> Message:
    """One session; while open, with what its tile shows (infusion, assessment, discharge)."""
    try:
        session = await context.sessions.get(session_id)
    except UnknownSessionError:
        raise no_session(session_id) from None
    engine = context.sessions.engine_of(session)
    return session_message(session, engine.board_status(now_ms()) if engine else None)


@router.post("/{session_id}/phase")
async def change_phase(
    session_id: str, body: PhaseChange, context: Context, user: Nurse
) -> Message:
    """Move a session to its next phase, or end it (with a signed checklist, or an override)."""
    if body.override_reason is not None and not user.may("admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "only an admin may end a session without its fit-to-leave checklist")
    try:
        session = await context.sessions.advance(
            session_id, body.phase, user.name, acknowledge_warnings=body.acknowledge_warnings,
            acknowledge_alarms=body.acknowledge_alarms, override_reason=body.override_reason)
    except UnknownSessionError:
        raise no_session(session_id) from None
    except (PhaseError, NeedsAcknowledgementError, NeedsChecklistError) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return session_message(session)


@router.post("/{session_id}/thresholds")
async def change_thresholds(
    session_id: str, body: ThresholdChange, context: Context, user: Nurse
) -> Message:
    """Replace one vital's alarm rules for this session (audited)."""
    try:
        session = await context.sessions.set_thresholds(
            session_id, body.vital, body.rules, user.name
        )
    except UnknownSessionError:
        raise no_session(session_id) from None
    except ProfileError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    except ValueError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return session_message(session)


@router.post("/{session_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(session_id: str, body: Note, context: Context, user: Nurse) -> Message:
    """Add a note to a session."""
    await _existing(context, session_id)
    at = now_ms()
    await context.store.add_note(session_id, at, user.name, body.text)
    return {"at_ms": at, "user": user.name, "text": body.text}


@router.get("/{session_id}/notes")
async def notes(session_id: str, context: Context) -> dict[str, list[dict[str, Any]]]:
    """A session's notes, oldest first."""
    await _existing(context, session_id)
    return {"notes": await context.store.notes(session_id)}


UNIX_MS: Final = re.compile(r"-?[0-9]{1,16}")
LATEST_MS: Final = 253_402_300_799_999
"""The last millisecond of the year 9999: no instant the monitor stores is later."""


def _instant(value: str | None, name: str) -> int | None:
    """Unix ms from ``value``: an integer of ms, or ISO 8601 with an offset.

    Raises:
        HTTPException: 422 naming ``name`` when it is neither, or out of range.
    """
    if value is None:
        return None
    moment: datetime | None = None
    if UNIX_MS.fullmatch(value):
        at_ms = int(value)
    else:
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(value)
        if moment is None or moment.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"{name} must be Unix ms or ISO 8601 with an offset, "
                                f"got {value[:64]!r}")
        at_ms = round(moment.timestamp() * 1000)
    if not -LATEST_MS <= at_ms <= LATEST_MS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"{name} {value[:64]!r} is out of range (years 1 to 9999)")
    return at_ms


@router.get("/{session_id}/vitals")
async def session_vitals(
    session_id: str,
    context: Context,
    start: Annotated[str | None, Query(alias="from", description="Unix ms or ISO 8601")] = None,
    end: Annotated[str | None, Query(alias="to", description="Unix ms or ISO 8601")] = None,
) -> dict[str, list[Message]]:
    """A session's stored readings in device-time order, optionally from/to."""
    await _existing(context, session_id)
    readings = await context.vitals.session_readings(
        session_id, _instant(start, "from"), _instant(end, "to")
    )
    return {"readings": [reading_record(r) for r in readings]}


@router.get("/{session_id}/limits")
async def session_limits(session_id: str, context: Context) -> dict[str, list[dict[str, Any]]]:
    """The alarm limits in force for the session (profile, overrides and baseline applied)."""
    try:
        session = await context.sessions.get(session_id)
    except UnknownSessionError:
        raise no_session(session_id) from None
    profile = context.sessions.profile_of(session)
    return {"limits": [
        {"code": code, "vital": rule.vital, "when": rule.when, "priority": rule.priority,
         "limit": rule.limit_for(session.baseline), "baseline_pct": rule.baseline_pct,
         "delay_s": rule.delay_ms / 1000, "hysteresis": rule.hysteresis}
        for conditions in profile.by_vital.values()
        for code, rules in conditions.items() for rule in rules
    ]}


@router.get("/{session_id}/audit")
async def session_audit(session_id: str, context: Context) -> dict[str, Any]:
    """Phase and threshold changes, and every alarm transition, of a session."""
    await _existing(context, session_id)
    alarms = await context.store.alarms(session_id=session_id)
    return {
        "changes": await context.store.audit_log(session_id),
        "alarms": [
            {**alarm_message(a), "history": await context.store.alarm_history(a.id)}
            for a in alarms
        ],
    }
