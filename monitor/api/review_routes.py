"""Routes of post-session review: reports, exports and threshold what-ifs."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from monitor.api.deps import Context
from monitor.api.exports import care_csv, to_csv, to_html, to_jsonl
from monitor.api.fhir import to_fhir
from monitor.api.session_routes import no_session
from monitor.app.session_service import UnknownSessionError
from monitor.app.what_if import WhatIfBusyError
from monitor.domain.limits import VitalDoc, VitalName

router = APIRouter(tags=["review"])

Format = Literal["json", "csv", "jsonl", "fhir", "html"]
Records = Literal["readings", "care", "all"]


@router.get("/api/sessions/{session_id}/report", response_model=None)
async def report(
    session_id: str, context: Context, format: Format = "json", records: Records = "readings",
) -> dict[str, Any] | Response:
    """The session report (json, html), or the session exported (csv, jsonl, fhir).

    ``records`` picks what csv and jsonl export: the ``readings`` (as
    ``device-sim --replay`` plays them back), the clinical workflow's
    ``care`` records, or (jsonl only) ``all`` of them, each line with its
    ``record`` kind. json, html and fhir always hold everything.
    """
    try:
        session = await context.sessions.get(session_id)
    except UnknownSessionError:
        raise no_session(session_id) from None
    if records != "readings" and format not in ("csv", "jsonl"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"records applies to csv and jsonl; {format} holds everything")
    if records == "all" and format == "csv":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "a CSV holds readings or care records, not both: "
                            "ask for records=readings or records=care, or format=jsonl")
    if format == "json":
        return await context.reports.report(session_id)
    readings = [] if records == "care" else await context.reports.readings(session)
    name = f"session-{session.patient_ref}-{session_id[:8]}"
    if format == "html":
        page = await context.reports.report(session_id)
        return HTMLResponse(await asyncio.to_thread(to_html, page, readings))
    care = await context.reports.care(session)
    if format == "csv":
        body = care_csv(care) if records == "care" else to_csv(readings)
        media = "text/csv"
        name += "-care" if records == "care" else ""
    elif format == "jsonl":
        body = to_jsonl(readings, None if records == "readings" else care)
        media = "application/x-ndjson"
        name += "" if records == "readings" else f"-{records}"
    else:
        body, media = json.dumps(to_fhir(session, readings, care)), "application/fhir+json"
    return PlainTextResponse(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}.{format.replace("fhir", "json")}"'})


class WhatIf(BaseModel):
    """``POST /api/review/what-if``: sessions and the profile to re-run them against."""

    model_config = ConfigDict(extra="forbid")
    profile: str = Field(description="a profile from thresholds.toml")
    overrides: dict[VitalName, VitalDoc] = Field(
        default_factory=dict, description="vitals whose rules differ from the profile's")
    session_ids: list[str] = Field(default_factory=list, description="these sessions, or...")
    from_: datetime | None = Field(default=None, alias="from",
                                   description="...every session opened from...")
    to: datetime | None = Field(default=None, description="...until (ISO 8601)")


@router.post("/api/review/what-if")
async def what_if(body: WhatIf, context: Context) -> dict[str, Any]:
    """Alarms the sessions raised, beside what another profile would have raised."""
    try:
        profile = context.sessions.named_profile(body.profile).with_overrides(
            {v: doc.model_dump(exclude_none=True) for v, doc in body.overrides.items()})
    except KeyError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"unknown profile {body.profile!r}") from None
    if body.session_ids:
        try:
            sessions = [await context.sessions.get(sid) for sid in body.session_ids]
        except UnknownSessionError as error:
            raise no_session(str(error.args[0])) from None
    else:
        start = body.from_.timestamp() * 1000 if body.from_ else 0
        end = body.to.timestamp() * 1000 if body.to else float("inf")
        sessions = [s for s in await context.store.sessions()
                    if start <= min(s.phase_started_ms.values()) <= end]
    try:
        return await context.reports.what_if(profile, sessions)
    except WhatIfBusyError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
