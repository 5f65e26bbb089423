"""Fault runs: publish a session's readings while something breaks, then count.

Each run publishes ``count`` readings at QoS 1 (a publisher retries a reading
until the broker acknowledges it, as a bedside monitor would), breaks one
thing in the middle, and reports readings published against readings stored,
duplicates, and whether the fault's technical alarm was raised and cleared.
The integration tests run them short; ``bench/faults.py`` runs them long.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import httpx

from tests.servers import Influx, MosquittoProcess, free_port, wait_for_port

TOKEN = "fault-run-bootstrap-token-0123456789"
SITE = "faults"
BED = "chair-1"


@dataclass(frozen=True, slots=True)
class FaultResult:
    """What a fault run counted."""

    fault: str
    published: int
    stored: int
    duplicates: int
    alarm: str
    raised: bool
    cleared: bool


def reading(seq: int) -> bytes:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_795_000_000 + seq)) + ".000Z"
    return json.dumps({"v": 1, "device_id": "mon-f1", "seq": seq, "ts": ts,
                       "vitals": {"hr": 60 + seq % 40, "spo2": 97}}).encode()


async def publish(port: int, count: int, rate_hz: float, halfway: asyncio.Event) -> int:
    """Publish ``count`` readings, each until acknowledged; set ``halfway`` midway."""
    seq = 0
    while seq < count:
        try:
            async with aiomqtt.Client("127.0.0.1", port, identifier="fault-device",
                                      timeout=2) as client:
                while seq < count:
                    await client.publish(f"infusion/{SITE}/{BED}/vitals", reading(seq), qos=1,
                                         timeout=2)
                    seq += 1
                    if seq == count // 2:
                        halfway.set()
                    await asyncio.sleep(1 / rate_hz)
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)
    return count


class Monitor:
    """``monitor run`` as its own process, so it can be killed."""

    def __init__(self, workdir: Path, broker_port: int, extra: dict[str, str]) -> None:
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
            "MONITOR_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
            "MONITOR_MQTT_CLIENT_ID": f"fault-monitor-{workdir.name}",
            "MONITOR_MQTT_SITES": f'["{SITE}"]',
            "MONITOR_DATA_DIR": str(workdir / "var"), "MONITOR_HTTP_PORT": str(self.port),
            "MONITOR_BOOTSTRAP_TOKEN": TOKEN, "MONITOR_BROKER_ALARM_AFTER_S": "1",
        } | extra
        self._process: subprocess.Popen[bytes] | None = None
        self.db = workdir / "var" / "monitor.db"

    def start(self) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=self.env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout_s=30)

    def kill(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=60)

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}",
                                 headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


async def _open_session(monitor: Monitor) -> str:
    async with monitor.api() as http:
        response = await http.post("/api/sessions",
                                   json={"site": SITE, "bed": BED, "patient_ref": "p-fault"})
        response.raise_for_status()
        session_id: str = response.json()["id"]
        return session_id


async def _stored(monitor: Monitor, session_id: str) -> list[tuple[str, int]]:
    async with monitor.api() as http:
        readings = (await http.get(f"/api/sessions/{session_id}/vitals")).json()["readings"]
    return [(r["device_id"], r["seq"]) for r in readings]


async def _alarm_seen(monitor: Monitor, code: str) -> tuple[bool, bool]:
    """Whether a system alarm ``code`` was raised, and whether it has cleared since."""
    with contextlib.closing(sqlite3.connect(monitor.db)) as db:
        states = [row[0] for row in db.execute(
            "SELECT e.transition FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id "
            "WHERE a.code = ? ORDER BY e.id", (code,))]
    return "raised" in states, "cleared" in states


async def _wait_complete(monitor: Monitor, session_id: str, count: int,
                         timeout_s: float) -> list[tuple[str, int]]:
    deadline = time.monotonic() + timeout_s
    while True:
        stored = await _stored(monitor, session_id)
        if len(set(stored)) >= count or time.monotonic() > deadline:
            return stored
        await asyncio.sleep(0.2)


async def _run(monitor: Monitor, broker_port: int, count: int, rate_hz: float,
               fault: str, alarm: str, break_it: object) -> FaultResult:
    session_id = await _open_session(monitor)
    halfway = asyncio.Event()
    publisher = asyncio.create_task(publish(broker_port, count, rate_hz, halfway))
    await halfway.wait()
    assert callable(break_it)
    await break_it()
    published = await publisher
    stored = await _wait_complete(monitor, session_id, count, timeout_s=60)
    if alarm != "monitor_restarted":
        await asyncio.sleep(1.5)  # the alarm clears on the next check after recovery
    raised, cleared = await _alarm_seen(monitor, alarm)
    return FaultResult(fault, published, len(stored), len(stored) - len(set(stored)), alarm,
                       raised, cleared)


async def broker_restart(workdir: Path, count: int, rate_hz: float, down_s: float) -> FaultResult:
    """Mosquitto (with persistence) stopped for ``down_s`` and started again."""
    broker_port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n"
                      f"max_queued_messages 4000000\npersistence true\n"
                      f"persistence_location {workdir}/\n")
    broker = MosquittoProcess(config, broker_port)
    broker.start()
    monitor = Monitor(workdir, broker_port, {})
    monitor.start()

    async def restart() -> None:
        broker.stop()
        await asyncio.sleep(down_s)
        broker.start()

    try:
        return await _run(monitor, broker_port, count, rate_hz,
                          "broker restarted", "broker_offline", restart)
    finally:
        monitor.stop()
        broker.stop()


async def monitor_killed(workdir: Path, broker_port: int, count: int,
                         rate_hz: float) -> FaultResult:
    """The monitor killed with SIGKILL and started again."""
    monitor = Monitor(workdir, broker_port, {})
    monitor.start()

    async def kill_and_restart() -> None:
        monitor.kill()
        await asyncio.sleep(1.0)
        monitor.start()

    try:
        return await _run(monitor, broker_port, count, rate_hz,
                          "monitor SIGKILLed", "monitor_restarted", kill_and_restart)
    finally:
        monitor.stop()


async def store_down(workdir: Path, broker_port: int, influx: Influx, count: int,
                     rate_hz: float, down_s: float) -> FaultResult:
    """InfluxDB stopped for ``down_s`` and started again."""
    monitor = Monitor(workdir, broker_port, {
        "MONITOR_STORE": "influx", "MONITOR_INFLUX_URL": influx.url,
        "MONITOR_INFLUX_DB": "faults", "MONITOR_INFLUX_USERNAME": influx.user,
        "MONITOR_INFLUX_PASSWORD": influx.password})
    monitor.start()

    async def outage() -> None:
        influx.stop()
        await asyncio.sleep(down_s)
        influx.start()

    try:
        return await _run(monitor, broker_port, count, rate_hz,
                          f"store down {down_s:g} s", "store_outage", outage)
    finally:
        monitor.stop()

