"""Routes of the board and its alarms, and the board's WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, WebSocket, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect

from monitor.api.deps import ApiContext, Caller, Context, Nurse
from monitor.api.messages import Message, alarm_message, snapshot_message
from monitor.app.counters import now_ms
from monitor.domain.alarm_ledger import PauseError, UnknownAlarmError
from monitor.domain.limits import MAX_PAUSE_CAP_S

router = APIRouter(tags=["board"])
socket_router = APIRouter()

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
TOKEN_CHECK_S = 1.0
"""How often an open board socket checks that its token is still in force."""


class Pause(BaseModel):
    """``POST /api/alarms/{id}/pause``."""

    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(
        default=120, gt=0, le=MAX_PAUSE_CAP_S,
        description="how long, at most the profile's max_pause_s (120 s by default, cap 300)")


def _no_alarm(alarm_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no open alarm {alarm_id}")


@router.get("/api/me")
async def me(principal: Caller) -> dict[str, str]:
    """Who the token belongs to, and its role (the dashboard shows controls by it)."""
    return {"name": principal.name, "role": principal.role}


@router.get("/api/board")
async def board(context: Context) -> Message:
    """Every bed as the board shows it now."""
    return snapshot_message(context.board, now_ms())


@router.get("/api/alarms")
async def alarms(
    context: Context,
    state: Literal["active", "acknowledged", "paused", "cleared", "open"] | None = None,
) -> dict[str, list[Message]]:
    """Alarms, newest first; ``state=open`` for all not cleared."""
    return {"alarms": [alarm_message(a) for a in await context.store.alarms(state)]}


@router.post("/api/alarms/{alarm_id}/ack")
async def acknowledge(alarm_id: str, context: Context, user: Nurse) -> Message:
    """Acknowledge an open alarm (a latched one clears)."""
    try:
        return alarm_message(await context.actions.acknowledge(alarm_id, user.name))
    except UnknownAlarmError:
        raise _no_alarm(alarm_id) from None


@router.post("/api/alarms/{alarm_id}/pause")
async def pause(alarm_id: str, body: Pause, context: Context, user: Nurse) -> Message:
    """Pause the alarm's bed, up to its priority, for a while."""
    try:
        return alarm_message(await context.actions.pause(alarm_id, user.name, body.seconds))
    except UnknownAlarmError:
        raise _no_alarm(alarm_id) from None
    except PauseError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


@router.get("/api/alarms/{alarm_id}/history")
async def alarm_history(alarm_id: str, context: Context) -> dict[str, Any]:
    """Every transition of an alarm: time, value, limit, user."""
    history = await context.store.alarm_history(alarm_id)
    if not history:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alarm {alarm_id}")
    return {"history": history}


@router.get("/api/dead-letters")
async def dead_letters(
    context: Context, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    """The newest messages that were refused, with the reason."""
    return {
        "count": context.counters.invalid,
        "dead_letters": await context.store.dead_letters(limit),
    }


@socket_router.websocket("/ws/board")
async def board_socket(websocket: WebSocket) -> None:
    """A snapshot, then deltas, as long as the client stays.

    Browsers cannot set headers on a WebSocket, so the token comes as
    ``?token=``; a missing or unknown one closes the socket before any data.
    """
    context: ApiContext = websocket.app.state.context
    token = websocket.query_params.get("token")
    if token is None or context.tokens.lookup(token) is None:
        context.counters.auth_failures += 1
        await websocket.close(code=POLICY_VIOLATION, reason="missing or unknown token")
        return
    await websocket.accept()
    client = context.hub.connect()

    async def send() -> None:
        while True:
            frame = await client.next_frame(lambda: snapshot_message(context.board, now_ms()))
            async with asyncio.timeout(context.hub.send_timeout_s):
                await websocket.send_text(frame)

    async def receive() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()

    async def keep_signed_in() -> None:
        # A token revoked (or no longer in force) ends its screens within seconds;
        # every role may watch the board, so a change of role leaves it open.
        while context.tokens.lookup(token) is not None:  # noqa: ASYNC110 - the registry also
            await asyncio.sleep(TOKEN_CHECK_S)  # changes from other processes: nothing to await

    sender = asyncio.create_task(send(), name="ws-send")
    receiver = asyncio.create_task(receive(), name="ws-receive")
    signed_in = asyncio.create_task(keep_signed_in(), name="ws-token")
    try:
        await asyncio.wait({sender, receiver, signed_in}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        context.hub.disconnect(client)
        for task in (sender, receiver, signed_in):
            task.cancel()
        await asyncio.gather(sender, receiver, signed_in, return_exceptions=True)
    if signed_in.done() and not signed_in.cancelled():
        context.counters.auth_failures += 1
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await websocket.close(code=POLICY_VIOLATION, reason="token revoked")
        return
    if sender.done() and not sender.cancelled() and isinstance(sender.exception(), TimeoutError):
        # A screen that takes nothing for this long is stuck: let it go (it
        # reconnects and gets a fresh snapshot when it is able to).
        context.counters.ws_stuck_closed += 1
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await websocket.close(code=TRY_AGAIN_LATER, reason="not reading")
