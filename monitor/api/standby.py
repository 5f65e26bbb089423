"""What a standby monitor answers over HTTP: alive, not ready, and why.

A load balancer or a Kubernetes readiness probe sends the boards only where
``/readyz`` answers 200: the active monitor. A standby's ``/readyz`` answers
503 with the reason; ``/healthz`` answers 200 (the process is up, so a
liveness probe leaves it be); anything else answers 503 with the reason too.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, status
from fastapi.responses import JSONResponse


def create_standby_app(reason: Callable[[], str]) -> FastAPI:
    """The standby's application; ``reason()`` says why it is not the active monitor."""
    app = FastAPI(title="Infusion-session monitor (standby)", openapi_url=None)

    def not_active() -> JSONResponse:
        return JSONResponse({"ready": False, "role": "standby", "reason": reason()},
                            status_code=status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """503: a standby serves nothing."""
        return not_active()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    async def elsewhere() -> JSONResponse:
        return not_active()

    return app
