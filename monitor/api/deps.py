"""What every route depends on: the service's context and the caller's token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from monitor.api.hub import BoardHub
from monitor.app.alarm_actions import AlarmActions
from monitor.app.auth import Principal, Role, TokenRegistry
from monitor.app.board import Board
from monitor.app.care_service import CareService
from monitor.app.counters import Counters
from monitor.app.ports import RecordStore, VitalsStore
from monitor.app.reports import Reports
from monitor.app.session_service import SessionService


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What the routes work with; built by the service and passed in."""

    board: Board
    hub: BoardHub
    store: RecordStore
    sessions: SessionService
    care: CareService
    actions: AlarmActions
    counters: Counters
    tokens: TokenRegistry
    vitals: VitalsStore
    reports: Reports
    dashboard_dir: Path
    ready: Callable[[], dict[str, bool]]
    metrics: Callable[[], Awaitable[str]]


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(_context)]


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def caller(request: Request, context: Context) -> Principal:
    """The principal of the request's bearer token.

    Raises:
        HTTPException: 401 without a token, or with one not in force.
    """
    token = bearer(request.headers.get("Authorization"))
    if token is None:
        context.counters.auth_failures += 1
        raise _unauthorized("missing bearer token: send Authorization: Bearer <token>")
    principal = context.tokens.lookup(token)
    if principal is None:
        context.counters.auth_failures += 1
        raise _unauthorized("unknown or revoked token")
    return principal


Caller = Annotated[Principal, Depends(caller)]


def requiring(role: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that lets through callers with at least ``role`` (403 otherwise)."""

    async def check(principal: Caller) -> Principal:
        if not principal.may(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{principal.name} has role {principal.role}; this needs {role}",
            )
        return principal

    return check


Nurse = Annotated[Principal, Depends(requiring("nurse"))]
Admin = Annotated[Principal, Depends(requiring("admin"))]
