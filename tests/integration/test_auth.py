"""Nobody in without a token; roles decide who may act."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from pathlib import Path

import httpx
import pytest
import websockets
from pydantic import SecretStr

from monitor.service import run_monitor
from monitor.settings import Settings, SettingsError
from tests.integration.conftest import RunningMonitor

pytestmark = pytest.mark.integration

PUBLIC = {"/healthz", "/readyz"}


async def test_every_data_route_refuses_a_request_without_a_token(
    monitor: RunningMonitor,
) -> None:
    async with monitor.api() as admin:
        schema = (await admin.get("/openapi.json")).json()
    routes = [(method.upper(), re.sub(r"\{[^}]+\}", "x", path))
              for path, methods in schema["paths"].items() for method in methods
              if path not in PUBLIC]
    assert len(routes) >= 15
    async with httpx.AsyncClient(base_url=monitor.url) as anonymous:
        for method, path in routes:
            response = await anonymous.request(method, path, json={})
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.json()["detail"].startswith("missing bearer token")
            wrong = await anonymous.request(method, path, json={},
                                            headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert wrong.json()["detail"] == "unknown or revoked token"
        assert (await anonymous.get("/healthz")).status_code == 200


async def test_a_viewer_reads_but_may_not_act(monitor: RunningMonitor) -> None:
    viewer = await monitor.token("screen-3", "viewer")
    async with monitor.api(viewer) as http:
        assert (await http.get("/api/board")).status_code == 200
        assert (await http.get("/api/me")).json() == {"name": "screen-3", "role": "viewer"}
        refused = await http.post("/api/alarms/some-id/ack")
        assert refused.status_code == 403
        assert refused.json()["detail"] == "screen-3 has role viewer; this needs nurse"
        opened = await http.post("/api/sessions", json={
            "site": monitor.site, "bed": "b", "patient_ref": "p"})
        assert opened.status_code == 403
        assert (await http.post("/api/tokens", json={"name": "x", "role": "admin"})
                ).status_code == 403


async def test_a_revoked_token_is_refused_at_once(monitor: RunningMonitor) -> None:
    async with monitor.api() as admin:
        issued = (await admin.post("/api/tokens", json={"name": "temp", "role": "nurse"})).json()
        async with monitor.api(issued["token"]) as temp:
            assert (await temp.get("/api/board")).status_code == 200
            assert (await admin.delete(f"/api/tokens/{issued['id']}")).status_code == 204
            assert (await temp.get("/api/board")).status_code == 401
        listed = (await admin.get("/api/tokens")).json()["tokens"]
    assert "temp" not in {t["name"] for t in listed}
    assert all("token" not in t and "hash" not in t for t in listed)


async def test_the_board_socket_needs_a_token(monitor: RunningMonitor) -> None:
    bare = monitor.ws_url().split("?")[0]
    for url in (bare, bare + "?token=wrong"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url):
                pass
        assert refused.value.response.status_code == 403
    async with websockets.connect(monitor.ws_url()) as socket:
        assert '"snapshot"' in str(await socket.recv())


@pytest.mark.parametrize("secret", ["", "changeme", "short-token"])
async def test_a_weak_bootstrap_token_stops_start_up_outside_demo_mode(
    monitor_settings: Settings, secret: str
) -> None:
    settings = monitor_settings.model_copy(update={"bootstrap_token": SecretStr(secret)})
    with pytest.raises(SettingsError, match="MONITOR_BOOTSTRAP_TOKEN is refused"):
        await run_monitor(settings)


async def test_no_way_in_stops_start_up(monitor_settings: Settings, tmp_path: Path) -> None:
    settings = monitor_settings.model_copy(update={"bootstrap_token": None,
                                                   "data_dir": tmp_path / "empty"})
    with pytest.raises(SettingsError, match="no token can sign in"):
        await run_monitor(settings)


async def test_a_token_in_a_query_string_is_never_logged(
    monitor: RunningMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        caplog.set_level(logging.DEBUG, logger=name)
    secret = await monitor.token("kiosk-2", "viewer")
    async with websockets.connect(monitor.ws_url(secret)) as socket:
        await socket.recv()
    async with httpx.AsyncClient(base_url=monitor.url) as browser:
        await browser.get(f"/?token={secret}")
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(monitor.ws_url("wrong-token-value")):
            pass
    client_side = ("websockets.client", "httpx", "httpcore")  # the test's own clients
    text = "\n".join(record.getMessage() for record in caplog.records
                     if not record.name.startswith(client_side))
    assert "WebSocket /ws/board?token=<redacted>" in text  # uvicorn did log the URL...
    assert secret not in text  # ...but not the token
    assert "wrong-token-value" not in text


@pytest.mark.parametrize("how", ["api", "another process"])
async def test_a_revoked_tokens_board_socket_is_closed_within_5_s(
    monitor: RunningMonitor, how: str
) -> None:
    async with monitor.api() as admin:
        issued = (await admin.post("/api/tokens", json={"name": "wall-2", "role": "viewer"})).json()
    async with websockets.connect(monitor.ws_url(issued["token"])) as socket:
        assert json.loads(await socket.recv())["type"] == "snapshot"
        revoked = time.monotonic()
        if how == "api":
            async with monitor.api() as admin:
                assert (await admin.delete(f"/api/tokens/{issued['id']}")).status_code == 204
        else:  # what `monitor token revoke` does: a row in the shared database
            with monitor.db() as db:
                db.execute("UPDATE tokens SET revoked_ms = 1 WHERE id = ?", (issued["id"],))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(read_all(socket), 5)
    assert time.monotonic() - revoked < 5
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "token revoked")


async def read_all(socket: websockets.ClientConnection) -> None:
    """Read frames until the socket closes."""
    while True:
        await socket.recv()


async def test_a_token_id_beyond_64_bits_is_a_422_not_a_500(monitor: RunningMonitor) -> None:
    async with monitor.api() as admin:
        response = await admin.delete(f"/api/tokens/{2**64}")
    assert response.status_code == 422
    assert "token_id" in response.text
