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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import httpx

from tests.servers import (
    Influx,
    MosquittoProcess,
    anonymous_mosquitto,
    free_port,
    wait_for_port,
)

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
    raised_after_s: float | None = None
    """From the fault to the alarm being raised."""


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
        self.log = workdir / "monitor.log"

    def start(self) -> None:
        with self.log.open("ab") as log:  # what it said, to read after a run that went wrong
            self._process = subprocess.Popen([sys.executable, "-m", "monitor", "run"],
                                             env=self.env, stdout=log, stderr=log)
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


async def _alarm_seen(monitor: Monitor, code: str) -> tuple[bool, bool, int | None]:
    """Whether a system alarm ``code`` was raised (and when, Unix ms), and whether it has
    cleared since."""
    with contextlib.closing(sqlite3.connect(monitor.db)) as db:
        states = list(db.execute(
            "SELECT e.transition, e.at_ms FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id "
            "WHERE a.code = ? ORDER BY e.id", (code,)))
    raised = [at for transition, at in states if transition == "raised"]
    return bool(raised), any(t == "cleared" for t, _ in states), raised[0] if raised else None


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
    broken_ms = time.time_ns() // 1_000_000
    await break_it()
    published = await publisher
    stored = await _wait_complete(monitor, session_id, count, timeout_s=60)
    if alarm != "monitor_restarted":
        await asyncio.sleep(1.5)  # the alarm clears on the next check after recovery
    raised, cleared, raised_ms = await _alarm_seen(monitor, alarm)
    return FaultResult(fault, published, len(stored), len(stored) - len(set(stored)), alarm,
                       raised, cleared,
                       None if raised_ms is None else (raised_ms - broken_ms) / 1000)


async def broker_restart(workdir: Path, count: int, rate_hz: float, down_s: float) -> FaultResult:
    """Mosquitto (with persistence) stopped for ``down_s`` and started again."""
    broker_port = free_port()
    broker = anonymous_mosquitto(workdir, broker_port, persistent=True)
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



@contextlib.contextmanager
def small_disk(mount: Path, size: str = "64m") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``mount`` (needs root), unmounted afterwards.

    It must hold SQLite's WAL until its first checkpoint (1,000 pages, about
    4 MiB): on a disk smaller than that, the WAL itself fills it.
    """
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                   check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte; returns the filler."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    return filler


def _forgetful_broker(workdir: Path) -> MosquittoProcess:
    """A Mosquitto that keeps nothing across a restart (persistence off)."""
    return anonymous_mosquitto(workdir, free_port(), persistent=False)


async def poison_message(workdir: Path, broker_port: int, count: int,
                         rate_hz: float) -> FaultResult:
    """A 1 MiB + 1 byte message, and one that is not JSON, on the stream's own bed."""
    monitor = Monitor(workdir, broker_port, {})
    monitor.start()

    async def poison() -> None:
        async with aiomqtt.Client("127.0.0.1", broker_port) as client:
            topic = f"infusion/{SITE}/{BED}/vitals"
            await client.publish(topic, b"{" + b" " * 1_048_576, qos=1)
            await client.publish(topic, b"not json", qos=1)

    try:
        result = await _run(monitor, broker_port, count, rate_hz, "poison message",
                            "(dead letters)", poison)
        with contextlib.closing(sqlite3.connect(monitor.db)) as db:
            letters = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
        return FaultResult(result.fault, result.published, result.stored, result.duplicates,
                           f"{letters} dead letters", letters == 2, True)
    finally:
        monitor.stop()


async def disk_full(workdir: Path, broker_port: int, count: int, rate_hz: float,
                    full_s: float) -> FaultResult:
    """The monitor's data directory on a 64 MiB tmpfs, filled for ``full_s``."""
    disk = workdir / "disk"
    disk.mkdir()

    async def fill_for_a_while() -> None:
        filler = fill(disk)
        await asyncio.sleep(full_s)
        filler.unlink()

    with small_disk(disk):
        monitor = Monitor(disk, broker_port, {})
        monitor.log = workdir / "monitor.log"  # not on the disk that fills
        monitor.start()
        try:
            return await _run(monitor, broker_port, count, rate_hz, f"disk full {full_s:g} s",
                              "storage_failed", fill_for_a_while)
        finally:
            monitor.stop()


async def session_lost(workdir: Path, count: int, rate_hz: float) -> FaultResult:
    """A broker without persistence restarted: the monitor's session and queue are gone."""
    broker = _forgetful_broker(workdir)
    broker.start()
    monitor = Monitor(workdir, broker.port, {})
    monitor.start()

    async def restart() -> None:
        broker.stop()
        broker.start()

    try:
        return await _run(monitor, broker.port, count, rate_hz, "session lost at broker",
                          "broker_session_lost", restart)
    finally:
        monitor.stop()
        broker.stop()


async def client_id_taken(workdir: Path, broker_port: int, count: int,
                          rate_hz: float) -> FaultResult:
    """Another client connects with the monitor's client id (MQTT 5, clean start) for 2 s."""
    monitor = Monitor(workdir, broker_port, {})
    monitor.start()

    async def take_over() -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", broker_port,
                                      identifier=monitor.env["MONITOR_MQTT_CLIENT_ID"],
                                      protocol=aiomqtt.ProtocolVersion.V5):
                await asyncio.sleep(2)

    try:
        return await _run(monitor, broker_port, count, rate_hz, "client id taken over",
                          "broker_session_lost", take_over)
    finally:
        monitor.stop()
