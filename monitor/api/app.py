"""The FastAPI application: data routes behind tokens, health and the dashboard without.

The dashboard's static files and the OpenAPI description carry no patient
data and must load before anyone signs in; every route that does carry data
needs a bearer token.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, status
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from monitor.api import (
    admin_routes,
    alarm_routes,
    care_routes,
    metrics,
    review_routes,
    session_routes,
    vital_routes,
)
from monitor.api.deps import ApiContext, Context, caller


def create_app(context: ApiContext) -> FastAPI:
    """The FastAPI application around ``context``."""
    # /docs and /redoc load Swagger UI and ReDoc from the monitor itself: a clinic's
    # network often has no way out to a CDN.
    app = FastAPIOffline(title="Infusion-session monitor", version="0.1.0")
    app.state.context = context
    protected = [Depends(caller)]
    app.include_router(session_routes.router, dependencies=protected)
    app.include_router(care_routes.router, dependencies=protected)
    app.include_router(alarm_routes.router, dependencies=protected)
    app.include_router(admin_routes.router, dependencies=protected)
    app.include_router(review_routes.router, dependencies=protected)
    app.include_router(metrics.router, dependencies=protected)
    app.include_router(vital_routes.router, dependencies=protected)
    app.include_router(alarm_routes.socket_router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(context: Context) -> JSONResponse:
        """Connected to the broker and the store: 200, else 503 with what is missing."""
        parts = context.ready()
        ready = all(parts.values())
        return JSONResponse(
            {"ready": ready, **parts},
            status_code=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(context.dashboard_dir / "index.html")

    @app.get("/session", include_in_schema=False)
    async def session_page() -> FileResponse:
        return FileResponse(context.dashboard_dir / "session.html")

    @app.get("/patient", include_in_schema=False)
    async def patient_page() -> FileResponse:
        return FileResponse(context.dashboard_dir / "patient.html")

    app.mount("/static", StaticFiles(directory=context.dashboard_dir), name="static")
    return app
