"""Real servers for integration tests: Mosquitto and the monitor, on free ports in temp dirs."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import httpx
import pytest
from pydantic import SecretStr

from monitor.service import Started, run_monitor
from monitor.settings import Settings
from tests.servers import Mosquitto, free_port
from tests.servers import mosquitto as start_mosquitto

ROOT = Path(__file__).parents[2]

__all__ = ["Mosquitto", "free_port"]

@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A Mosquitto broker for the whole run; tests keep apart by site."""
    with start_mosquitto(tmp_path_factory.mktemp("mosquitto")) as broker:
        yield broker


BOOTSTRAP = "integration-bootstrap-token-0123456789"


@dataclass
class RunningMonitor:
    started: Started
    settings: Settings
    site: str

    @property
    def url(self) -> str:
        return self.started.dashboard_url.rstrip("/")

    def ws_url(self, token: str = BOOTSTRAP) -> str:
        return self.url.replace("http://", "ws://") + f"/ws/board?token={token}"

    def api(self, token: str = BOOTSTRAP) -> httpx.AsyncClient:
        """An API client signed in with ``token`` (the bootstrap admin's by default)."""
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {token}"})

    async def open_session(self, bed: str) -> str:
        """Open a session at ``bed`` of this test's site; returns its id."""
        async with self.api() as http:
            response = await http.post("/api/sessions", json={
                "site": self.site, "bed": bed, "patient_ref": f"p-{bed}"})
            response.raise_for_status()
            session_id: str = response.json()["id"]
            return session_id

    async def token(self, name: str, role: str) -> str:
        """A new token for ``name`` with ``role``."""
        async with self.api() as admin:
            response = await admin.post("/api/tokens", json={"name": name, "role": role})
            response.raise_for_status()
            token: str = response.json()["token"]
            return token

    def db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.settings.data_dir / "monitor.db")
        db.row_factory = sqlite3.Row
        return db


def crash_mark(settings: Settings) -> None:
    """What a monitor killed without shutting down leaves in its database."""
    with closing(sqlite3.connect(settings.data_dir / "monitor.db")) as db, db:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('running_since', '1700000000000')")


@asynccontextmanager
async def monitor_running(settings: Settings, site: str) -> AsyncIterator[RunningMonitor]:
    """Run the monitor in this event loop until the block ends (orderly stop)."""
    stop = asyncio.Event()
    ready: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_monitor(settings, stop=stop, on_started=ready.set_result))
    waiting: set[asyncio.Future[object]] = {task, ready}  # type: ignore[arg-type]
    done, _ = await asyncio.wait(waiting, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    started = await ready
    try:
        yield RunningMonitor(started, settings, site)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


@pytest.fixture
def site() -> str:
    """A site name of this test's own, so tests never see each other's messages."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def monitor_settings(mosquitto: Mosquitto, tmp_path: Path, site: str) -> Settings:
    return Settings(
        mqtt_url=mosquitto.url, mqtt_client_id=f"monitor-{site}", mqtt_sites=[site],
        http_port=0, data_dir=tmp_path / "var", bootstrap_token=SecretStr(BOOTSTRAP),
        paging_file=None,  # tests of paging configure their own
    )


@pytest.fixture
async def monitor(monitor_settings: Settings, site: str) -> AsyncIterator[RunningMonitor]:
    async with monitor_running(monitor_settings, site) as running:
        yield running


def reading(seq: int, device_id: str = "mon-1", **vitals: float) -> bytes:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{seq % 1000:03d}Z"
    return json.dumps(
        {"v": 1, "device_id": device_id, "seq": seq, "ts": ts, "vitals": vitals}
    ).encode()


@asynccontextmanager
async def publisher(mosquitto: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
        yield client


async def publish_reading(mosquitto: Mosquitto, site: str, bed: str, payload: bytes) -> None:
    """One reading from ``bed`` of ``site``, at QoS 1."""
    async with publisher(mosquitto) as mqtt:
        await mqtt.publish(f"infusion/{site}/{bed}/vitals", payload, qos=1)


async def system_alarms(monitor: RunningMonitor) -> dict[str, str]:
    """The monitor's own open alarms on the board (``system/monitor``): code -> priority."""
    async with monitor.api() as http:
        board = (await http.get("/api/board")).json()
    return {a["code"]: a["priority"] for b in board["beds"] if b["site"] == "system"
            for a in b["alarms"]}


async def eventually(check: object, timeout_s: float = 10.0, interval_s: float = 0.05) -> None:
    """Wait until ``check()`` (sync or async) is truthy."""
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {check}")
        await asyncio.sleep(interval_s)


def start_up_output(env: dict[str, str]) -> str:
    """What ``monitor run`` prints with ``env`` (and no other MONITOR_* variable) until it
    names its broker, then on an orderly stop."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "monitor"), "run"], cwd=ROOT, env=clean | env,
        text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        output.append(line)
        if line.startswith("MQTT broker:") or not line:
            break
    process.terminate()
    rest, _ = process.communicate(timeout=30)
    return "".join(output) + rest
