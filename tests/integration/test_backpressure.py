"""A stuck board screen never delays ingest or the other screens; it is let go."""

from __future__ import annotations

import asyncio
import json

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
from tests.servers import stuck_screen

pytestmark = pytest.mark.integration

BEDS = 500
ROUNDS = 60


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

            async def screen_gets_all() -> None:
                while sum(seen.values()) < BEDS * ROUNDS:
                    async with asyncio.timeout(5):
                        frame = json.loads(await screen.recv())
                    for message in frame if isinstance(frame, list) else [frame]:
                        if message["type"] == "reading":
                            seen[message["bed"]] = seen.get(message["bed"], 0) + 1

            async with stuck_screen(port, BOOTSTRAP):
                watching = asyncio.create_task(screen_gets_all())
                async with aiomqtt.Client("127.0.0.1", mosquitto.port,
                                          max_inflight_messages=1000) as mqtt:
                    mqtt.pending_calls_threshold = 2 * BEDS
                    for round_ in range(ROUNDS):
                        await asyncio.gather(*(
                            mqtt.publish(f"infusion/{site}/b{n}/vitals",
                                         reading(round_, f"dev-{n}", hr=60 + round_), qos=1)
                            for n in range(BEDS)))
                await watching

                async def stuck_let_go() -> bool:
                    return await metric(monitor, "ws_stuck_closed_total") >= 1
                await eventually(stuck_let_go, timeout_s=15)
            assert await metric(monitor, "accepted_total") == BEDS * ROUNDS
            assert await metric(monitor, "board_clients") == 1
    assert set(seen.values()) == {ROUNDS}
    assert len(seen) == BEDS
