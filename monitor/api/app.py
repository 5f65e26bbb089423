"""The HTTP API, the board WebSocket and the dashboard's static files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket, status
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect

from monitor.adapters.sqlite import SqliteStore
from monitor.alarm_actions import MAX_PAUSE_S, AlarmActions
from monitor.api.hub import BoardHub
from monitor.domain.board import Board, Message, alarm_message, session_message
from monitor.domain.engine import UnknownAlarmError
from monitor.domain.limits import ProfileError, VitalDoc, VitalName
from monitor.domain.readings import BedRef
from monitor.domain.sessions import Phase, PhaseError
from monitor.pipeline import Counters, now_ms
from monitor.sessions import SessionConflictError, SessionService, UnknownSessionError

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What the routes work with; built by the service and passed in."""

    board: Board
    hub: BoardHub
    store: SqliteStore
    sessions: SessionService
    actions: AlarmActions
    counters: Counters
    dashboard_dir: Path
    ready: Callable[[], dict[str, bool]]


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(_context)]


class CreateSession(BaseModel):
    """``POST /api/sessions``."""

    model_config = ConfigDict(extra="forbid")
    site: str = Field(pattern=NAME_PATTERN, description="site, as in the MQTT topic")
    bed: str = Field(pattern=NAME_PATTERN, description="bed, as in the MQTT topic")
    patient_ref: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="pseudonymous reference, never a name"
    )
    profile: str | None = Field(default=None, description="threshold profile; default if unset")


USER = Field(
    default="unknown", pattern=r"^[A-Za-z0-9_.@ -]{1,64}$",
    description="who does this (recorded in the audit log)",
)


class PhaseChange(BaseModel):
    """``POST /api/sessions/{id}/phase``."""

    model_config = ConfigDict(extra="forbid")
    phase: Phase = Field(description="the phase the session moves to")
    user: str = USER


class ThresholdChange(BaseModel):
    """``POST /api/sessions/{id}/thresholds``: one vital's rules for this session."""

    model_config = ConfigDict(extra="forbid")
    vital: VitalName = Field(description="the vital whose rules change")
    rules: VitalDoc | None = Field(description="the new rules; null restores the profile's")
    user: str = USER


class Acknowledge(BaseModel):
    """``POST /api/alarms/{id}/ack``."""

    model_config = ConfigDict(extra="forbid")
    user: str = USER


class Pause(BaseModel):
    """``POST /api/alarms/{id}/pause``."""

    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=120, gt=0, le=MAX_PAUSE_S, description="how long")
    user: str = USER


def _no_session(session_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no session {session_id}")


def _no_alarm(alarm_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no open alarm {alarm_id}")


def _register_sessions(app: FastAPI) -> None:
    @app.post("/api/sessions", status_code=status.HTTP_201_CREATED)
    async def create_session(body: CreateSession, context: Context) -> Message:
        """Open a session at a bed (in its baseline phase)."""
        try:
            session = await context.sessions.create(
                BedRef(body.site, body.bed), body.patient_ref, body.profile
            )
        except SessionConflictError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
        return session_message(session)

    @app.get("/api/sessions")
    async def list_sessions(
        context: Context, open_only: Annotated[bool, Query(alias="open")] = False
    ) -> dict[str, list[Message]]:
        """Every session, oldest first (``?open=true``: only those not ended)."""
        sessions = await context.store.sessions(open_only=open_only)
        return {"sessions": [session_message(s) for s in sessions]}

    @app.get("/api/sessions/{session_id}")
    async def get_session(session_id: str, context: Context) -> Message:
        """One session."""
        try:
            return session_message(await context.sessions.get(session_id))
        except UnknownSessionError:
            raise _no_session(session_id) from None

    @app.post("/api/sessions/{session_id}/phase")
    async def change_phase(session_id: str, body: PhaseChange, context: Context) -> Message:
        """Move a session to its next phase, or end it."""
        try:
            session = await context.sessions.advance(session_id, body.phase, body.user)
        except UnknownSessionError:
            raise _no_session(session_id) from None
        except PhaseError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
        return session_message(session)

    @app.post("/api/sessions/{session_id}/thresholds")
    async def change_thresholds(
        session_id: str, body: ThresholdChange, context: Context
    ) -> Message:
        """Replace one vital's alarm rules for this session (audited)."""
        try:
            session = await context.sessions.set_thresholds(
                session_id, body.vital, body.rules, body.user
            )
        except UnknownSessionError:
            raise _no_session(session_id) from None
        except (ProfileError, ValueError) as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
        return session_message(session)

    @app.get("/api/sessions/{session_id}/audit")
    async def session_audit(session_id: str, context: Context) -> dict[str, Any]:
        """Phase and threshold changes, and every alarm transition, of a session."""
        try:
            await context.sessions.get(session_id)
        except UnknownSessionError:
            raise _no_session(session_id) from None
        alarms = await context.store.alarms(session_id=session_id)
        return {
            "changes": await context.store.audit_log(session_id),
            "alarms": [
                {**alarm_message(a), "history": await context.store.alarm_history(a.id)}
                for a in alarms
            ],
        }

    @app.get("/api/sessions/{session_id}/vitals")
    async def session_vitals(session_id: str, context: Context) -> dict[str, list[Message]]:
        """Every stored reading of a session, in device-time order."""
        try:
            await context.sessions.get(session_id)
        except UnknownSessionError:
            raise _no_session(session_id) from None
        return {"readings": await context.store.session_readings(session_id)}


def _register_board(app: FastAPI) -> None:
    @app.get("/api/board")
    async def board(context: Context) -> Message:
        """Every bed as the board shows it now."""
        return context.board.snapshot(now_ms())

    @app.get("/api/alarms")
    async def alarms(
        context: Context,
        state: Literal["active", "acknowledged", "paused", "cleared", "open"] | None = None,
    ) -> dict[str, list[Message]]:
        """Alarms, newest first; ``state=open`` for all not cleared."""
        return {"alarms": [alarm_message(a) for a in await context.store.alarms(state)]}

    @app.post("/api/alarms/{alarm_id}/ack")
    async def acknowledge(alarm_id: str, body: Acknowledge, context: Context) -> Message:
        """Acknowledge an open alarm (a latched one clears)."""
        try:
            return alarm_message(await context.actions.acknowledge(alarm_id, body.user))
        except UnknownAlarmError:
            raise _no_alarm(alarm_id) from None

    @app.post("/api/alarms/{alarm_id}/pause")
    async def pause(alarm_id: str, body: Pause, context: Context) -> Message:
        """Pause the alarm's bed, up to its priority, for a while."""
        try:
            return alarm_message(await context.actions.pause(alarm_id, body.user, body.seconds))
        except UnknownAlarmError:
            raise _no_alarm(alarm_id) from None

    @app.get("/api/alarms/{alarm_id}/history")
    async def alarm_history(alarm_id: str, context: Context) -> dict[str, Any]:
        """Every transition of an alarm: time, value, limit, user."""
        history = await context.store.alarm_history(alarm_id)
        if not history:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alarm {alarm_id}")
        return {"history": history}

    @app.get("/api/dead-letters")
    async def dead_letters(
        context: Context, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> dict[str, Any]:
        """The newest messages that were refused, with the reason."""
        return {
            "count": context.counters.invalid,
            "dead_letters": await context.store.dead_letters(limit),
        }

    @app.websocket("/ws/board")
    async def board_socket(websocket: WebSocket) -> None:
        """A snapshot, then deltas, as long as the client stays."""
        context: ApiContext = websocket.app.state.context
        await websocket.accept()
        client = context.hub.connect()

        async def send() -> None:
            while True:
                frame = await client.next_frame(lambda: context.board.snapshot(now_ms()))
                await websocket.send_text(frame)

        sender = asyncio.create_task(send(), name="ws-send")
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            context.hub.disconnect(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await sender


def _register_health(app: FastAPI) -> None:
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(context: Context) -> JSONResponse:
        """Connected to the broker and the store: 200, else 503 with what is missing."""
        parts = context.ready()
        ready = all(parts.values())
        return JSONResponse(
            {"ready": ready, **parts},
            status_code=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE,
        )


def create_app(context: ApiContext) -> FastAPI:
    """The FastAPI application around ``context``."""
    app = FastAPI(title="Infusion-session monitor", version="0.1.0")
    app.state.context = context
    _register_sessions(app)
    _register_board(app)
    _register_health(app)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(context.dashboard_dir / "index.html")

    app.mount("/static", StaticFiles(directory=context.dashboard_dir), name="static")
    return app
