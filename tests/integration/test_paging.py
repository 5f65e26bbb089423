"""Paging against real servers: Mosquitto, an HTTP receiver checking the HMAC, an SMTP server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.settings import Settings
from tests.integration.conftest import (
    Mosquitto,
    RunningMonitor,
    eventually,
    free_port,
    monitor_running,
    publisher,
    reading,
)
from tests.servers import http_server

pytestmark = pytest.mark.integration

SECRET = "test-pager-secret"


@dataclass
class Receiver:
    """A pager gateway: takes signed JSON pages over HTTP and checks each signature."""

    port: int
    pages: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0

    async def page(self, request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers["X-Monitor-Timestamp"]
        expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(
            request.headers["X-Monitor-Signature"], "sha256=" + expected.hexdigest()
        ):
            self.bad_signatures += 1
            return Response(status_code=401)
        self.pages.append(json.loads(body))
        return Response(status_code=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server_receiver = Receiver(free_port())
    app = Starlette(routes=[Route("/page", server_receiver.page, methods=["POST"])])
    async with http_server(app, server_receiver.port):
        yield server_receiver


class Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[EmailMessage] = []

    def handle_message(self, message: EmailMessage) -> None:
        self.messages.append(message)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def paging_file(tmp_path: Path, webhook_port: int, smtp_port: int, escalate_s: float) -> Path:
    path = tmp_path / "paging.toml"
    path.write_text(f"""
[targets.hook]
kind = "webhook"
url = "http://127.0.0.1:{webhook_port}/page"
secret_env = "TEST_PAGER_SECRET"
timeout_s = 1
attempts = 3
backoff_s = 0.05

[targets.topic]
kind = "mqtt"

[targets.lead-mail]
kind = "smtp"
host = "127.0.0.1"
port = {smtp_port}
sender = "monitor@clinic.test"
to = ["5551234@pager.test"]
attempts = 2
backoff_s = 0.05

[[tiers]]
name = "nurses"
priorities = ["high", "medium"]
targets = ["hook", "topic"]
escalate_after_s = {escalate_s}

[[tiers]]
name = "clinic lead"
priorities = ["high"]
targets = ["lead-mail"]
""")
    return path


@pytest.fixture
def paging_settings(
    monitor_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("TEST_PAGER_SECRET", SECRET)
    return monitor_settings.model_copy(update={"tick_interval_s": 0.1})


async def breach(monitor: RunningMonitor, mosquitto: Mosquitto, bed: str) -> None:
    async with monitor.api() as http:
        response = await http.post("/api/sessions", json={
            "site": monitor.site, "bed": bed, "patient_ref": "p-7"})
        assert response.status_code == 201
    async with publisher(mosquitto) as mqtt:
        for seq in range(3):  # the same breach continues: still one page per tier
            await mqtt.publish(f"infusion/{monitor.site}/{bed}/vitals",
                               reading(seq, sbp=192, dbp=95, map=127, hr=80), qos=1)


async def active_alarm(monitor: RunningMonitor, code: str) -> dict[str, Any]:
    async with monitor.api() as http:
        alarms = (await http.get("/api/alarms", params={"state": "open"})).json()["alarms"]
    matching = [a for a in alarms if a["code"] == code]
    assert matching, alarms
    found: dict[str, Any] = matching[0]
    return found


async def test_unacknowledged_breach_escalates_from_nurses_to_the_lead(
    paging_settings: Settings, mosquitto: Mosquitto, receiver: Receiver,
    smtp: tuple[Inbox, int], tmp_path: Path, site: str,
) -> None:
    inbox, smtp_port = smtp
    settings = paging_settings.model_copy(update={
        "paging_file": paging_file(tmp_path, receiver.port, smtp_port, escalate_s=0.5)})
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as alerts:
        await alerts.subscribe(f"infusion/{site}/alerts/#", qos=1)
        async with monitor_running(settings, site) as monitor:
            await breach(monitor, mosquitto, "chair-1")
            async with asyncio.timeout(5):
                alert = await anext(alerts.messages)
            await eventually(lambda: len(inbox.messages) == 1, timeout_s=5)
            await asyncio.sleep(0.3)
            alarm = await active_alarm(monitor, "sbp_high")
            async with monitor.api() as http:
                history = (await http.get(f"/api/alarms/{alarm['id']}/history")).json()
    assert alert.topic.value == f"infusion/{site}/alerts/chair-1"
    assert json.loads(alert.payload)["code"] == "sbp_high"
    assert receiver.bad_signatures == 0
    assert [(p["code"], p["priority"], p["tier"]) for p in receiver.pages] == [
        ("sbp_high", "high", "nurses")]
    assert inbox.messages[0]["To"] == "5551234@pager.test"
    assert "[HIGH]" in inbox.messages[0]["Subject"]
    assert "sbp_high 192" in inbox.messages[0]["Subject"]
    paged = sorted((h["user"], h["transition"]) for h in history["history"]
                   if h["transition"] == "paged")
    assert paged == [("hook", "paged"), ("lead-mail", "paged"), ("topic", "paged")]


async def test_acknowledging_stops_the_escalation(
    paging_settings: Settings, mosquitto: Mosquitto, receiver: Receiver,
    smtp: tuple[Inbox, int], tmp_path: Path, site: str,
) -> None:
    inbox, smtp_port = smtp
    settings = paging_settings.model_copy(update={
        "paging_file": paging_file(tmp_path, receiver.port, smtp_port, escalate_s=1.5)})
    async with monitor_running(settings, site) as monitor:
        await breach(monitor, mosquitto, "chair-2")
        await eventually(lambda: len(receiver.pages) == 1, timeout_s=5)
        alarm = await active_alarm(monitor, "sbp_high")
        async with monitor.api(await monitor.token("nurse-kim", "nurse")) as http:
            acked = await http.post(f"/api/alarms/{alarm['id']}/ack")
            assert acked.status_code == 200
            assert acked.json()["state"] == "acknowledged"
            await asyncio.sleep(2.0)
            audit = await http.get(f"/api/alarms/{alarm['id']}/history")
    assert inbox.messages == []
    assert len(receiver.pages) == 1
    transitions = [(h["transition"], h["user"]) for h in audit.json()["history"]]
    assert ("acknowledged", "nurse-kim") in transitions


async def test_a_receiver_that_is_down_is_retried_then_raises_a_technical_alarm(
    paging_settings: Settings, mosquitto: Mosquitto, smtp: tuple[Inbox, int],
    tmp_path: Path, site: str,
) -> None:
    _, smtp_port = smtp
    settings = paging_settings.model_copy(update={
        "paging_file": paging_file(tmp_path, free_port(), smtp_port, escalate_s=30)})
    async with monitor_running(settings, site) as monitor:
        await breach(monitor, mosquitto, "chair-3")

        async def page_failed_shown() -> bool:
            async with monitor.api() as http:
                alarms = (await http.get("/api/alarms", params={"state": "active"})).json()
            return any(a["code"] == "page_failed" for a in alarms["alarms"])
        await eventually(page_failed_shown, timeout_s=10)
        failed = await active_alarm(monitor, "page_failed")
        sbp = await active_alarm(monitor, "sbp_high")
        async with monitor.api() as http:
            history = (await http.get(f"/api/alarms/{sbp['id']}/history")).json()["history"]
    assert (failed["kind"], failed["bed"], failed["priority"]) == ("technical", "chair-3", "medium")
    [record] = [h for h in history if h["transition"] == "page_failed"]
    assert record["user"] == "hook"
    assert "127.0.0.1" in record["detail"]
