"""The simulator against a real Mosquitto, and into a running monitor."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import aiomqtt
import pytest

from device_sim.cli import chair_specs
from device_sim.device import SimulatedMonitor
from device_sim.lifecycle import ApiSessions, SessionDriver
from device_sim.replay import load, replay
from device_sim.runner import run_devices
from device_sim.scenarios import DROP_S
from tests.integration.conftest import Mosquitto, RunningMonitor, eventually

pytestmark = pytest.mark.integration


async def test_device_drop_makes_the_broker_publish_the_retained_offline_status(
    mosquitto: Mosquitto, site: str
) -> None:
    [spec] = chair_specs(site, 1, seed=3, scenario="device-drop")
    device = SimulatedMonitor(spec)
    device.t_s = DROP_S[0] - 20  # start just before the network is cut
    states: list[str] = []
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as watcher:
        await watcher.subscribe(device.status_topic, qos=1)
        run = asyncio.create_task(run_devices(
            mosquitto.url, [device], speed=50, duration_s=200))
        async with asyncio.timeout(20):
            async for message in watcher.messages:
                states.append(json.loads(message.payload)["state"])
                if states[-3:] == ["online", "offline", "online"]:
                    break
        await run
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as late:
        await late.subscribe(device.status_topic, qos=1)
        async with asyncio.timeout(5):
            retained = await anext(late.messages)
    assert retained.retain
    assert json.loads(retained.payload)["state"] == "online"


async def test_senml_chairs_driven_through_the_api_reach_the_monitor(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    specs = chair_specs(monitor.site, 2, seed=1)
    devices = [SimulatedMonitor(spec, use_senml=True) for spec in specs]
    async with monitor.api() as http:
        driver = SessionDriver(ApiSessions(http))
        for device in devices:
            await driver.follow(device)
        await run_devices(mosquitto.url, devices, speed=20, duration_s=40)
        for device in devices:
            await driver.follow(device)
        sessions = (await http.get("/api/sessions", params={"open": "true"})).json()["sessions"]
        mine = [s for s in sessions if s["site"] == monitor.site]
        assert sorted(s["bed"] for s in mine) == ["bed-01", "bed-02"]

        async def all_stored() -> bool:
            counts = [len((await http.get(f"/api/sessions/{s['id']}/vitals")).json()["readings"])
                      for s in mine]
            return counts == [40, 40]
        await eventually(all_stored)
        readings = (await http.get(f"/api/sessions/{mine[0]['id']}/vitals")).json()["readings"]
    assert readings[0]["device_id"].startswith(f"mon-{monitor.site}-")
    assert {"hr", "spo2", "rr", "etco2", "sbp", "dbp", "map"} <= set(readings[0]["vitals"])


async def test_a_recording_replays_into_the_monitor(
    monitor: RunningMonitor, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    recording = tmp_path / "session.jsonl"
    recording.write_text("\n".join(json.dumps({
        "ts": f"2026-11-20T10:00:{second:02d}.000Z", "seq": second, "device_id": "rec-1",
        "vitals": {"hr": 60 + second, "spo2": 97},
    }) for second in range(30)))
    async with monitor.api() as http:
        session = (await http.post("/api/sessions", json={
            "site": monitor.site, "bed": "replayed", "patient_ref": "p-r"})).json()
        sent = await replay(mosquitto.url, load(recording),
                            site=monitor.site, bed="replayed", speed=100)

        async def stored() -> bool:
            got = (await http.get(f"/api/sessions/{session['id']}/vitals")).json()["readings"]
            return [r["vitals"]["hr"] for r in got] == [60 + s for s in range(30)]
        await eventually(stored)
    assert sent == 30


async def test_chairs_sharing_connections_send_spread_over_the_second(
    mosquitto: Mosquitto, site: str
) -> None:
    devices = [SimulatedMonitor(spec) for spec in chair_specs(site, 20, seed=5)]
    arrivals: dict[str, float] = {}
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as watcher:
        await watcher.subscribe(f"infusion/{site}/+/vitals", qos=1)
        run = asyncio.create_task(run_devices(
            mosquitto.url, devices, connections=2, duration_s=2))
        async with asyncio.timeout(10):
            async for message in watcher.messages:
                reading = json.loads(message.payload)
                if reading["seq"] == 0:
                    arrivals[reading["device_id"]] = time.monotonic()
                if len(arrivals) == len(devices):
                    break
        await run
    offsets = sorted(t - min(arrivals.values()) for t in arrivals.values())
    # 20 chairs, a twentieth of a second apart: the last about 0.95 s after the first.
    assert 0.8 < offsets[-1] < 1.3
    assert max(b - a for a, b in itertools.pairwise(offsets)) < 0.3
