"""A stuck board screen never delays ingest or the other screens; it is let go."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator

import aiomqtt
import pytest
import websockets

from monitor.settings import Settings
from tests.integration.conftest import (
    BOOTSTRAP,
    Mosquitto,
    RunningMonitor,
    eventually,
    monitor_running,
    reading,
)

pytestmark = pytest.mark.integration

BEDS = 500
ROUNDS = 60


@contextlib.asynccontextmanager
async def stuck_screen(port: int) -> AsyncIterator[socket.socket]:
    """A board client that completes the handshake and then never reads."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(sock, (
        f"GET /ws/board?token={BOOTSTRAP} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert await loop.sock_recv(sock, 12) == b"HTTP/1.1 101"
    try:
        yield sock
    finally:
        sock.close()


async def metric(monitor: RunningMonitor, name: str) -> float:
    async with monitor.api() as http:
        text = (await http.get("/metrics")).text
    [line] = [x for x in text.splitlines() if x.startswith(f"infusion_monitor_{name} ")]
    return float(line.split()[1])


async def test_a_stuck_screen_is_let_go_and_the_others_get_everything(
    monitor_settings: Settings, mosquitto: Mosquitto, site: str
) -> None:
    settings = monitor_settings.model_copy(update={"ws_send_timeout_s": 1.0,
                                                   "ws_queue_size": 50})
    async with monitor_running(settings, site) as monitor:
        port = int(monitor.url.rsplit(":", 1)[1])
        seen: dict[str, int] = {}
        async with websockets.connect(monitor.ws_url(), max_size=None) as screen:
            assert json.loads(await screen.recv())["type"] == "snapshot"
            async with stuck_screen(port):
                async with aiomqtt.Client("127.0.0.1", mosquitto.port,
                                          max_inflight_messages=1000) as mqtt:
                    for round_ in range(ROUNDS):
                        await asyncio.gather(*(
                            mqtt.publish(f"infusion/{site}/b{n}/vitals",
                                         reading(round_, f"dev-{n}", hr=60 + round_), qos=1)
                            for n in range(BEDS)))

                async def screen_got_all() -> bool:
                    while sum(seen.values()) < BEDS * ROUNDS:
                        async with asyncio.timeout(5):
                            frame = json.loads(await screen.recv())
                        for message in frame if isinstance(frame, list) else [frame]:
                            if message["type"] == "reading":
                                seen[message["bed"]] = seen.get(message["bed"], 0) + 1
                    return True
                await screen_got_all()

                async def stuck_let_go() -> bool:
                    return await metric(monitor, "ws_stuck_closed_total") >= 1
                await eventually(stuck_let_go, timeout_s=15)
            assert await metric(monitor, "accepted_total") == BEDS * ROUNDS
            assert await metric(monitor, "board_clients") == 1
    assert set(seen.values()) == {ROUNDS}
    assert len(seen) == BEDS
