"""Real servers on free ports in temp dirs, for integration tests and benchmarks."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    """Wait until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


@dataclass
class Mosquitto:
    """A running broker."""

    port: int
    url: str


@contextmanager
def mosquitto(directory: Path) -> Iterator[Mosquitto]:
    """Mosquitto with the queue settings of config/mosquitto.conf, on a free port."""
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        "max_queued_messages 4000000\nmax_queued_bytes 0\nmax_inflight_messages 1000\n"
    )
    process = subprocess.Popen(
        [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)
        yield Mosquitto(port, f"mqtt://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)


@asynccontextmanager
async def http_server(app: ASGIApp, port: int) -> AsyncIterator[None]:
    """Serve an ASGI app on ``127.0.0.1:port`` in this event loop."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"HTTP server on port {port} did not start")
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


INFLUXD = shutil.which("influxd") or "/usr/bin/influxd"


class Influx:
    """A real InfluxDB 1.x (Debian's ``influxdb``) with auth on, that can be stopped and started."""

    user = "monitor"
    password = "influx-test-password"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._config = directory / "influxdb.conf"
        self._config.write_text(f"""
reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{directory}/meta"
[data]
  dir = "{directory}/data"
  wal-dir = "{directory}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "2s"
  compact-full-write-cold-duration = "4s"
[http]
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = true
  log-enabled = false
[ifql]
  enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start influxd and wait until it answers."""
        self._process = subprocess.Popen([INFLUXD, "-config", str(self._config)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout_s=30)

    def stop(self) -> None:
        """Stop influxd."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            self._process = None

    def create_admin(self) -> None:
        """The first user (allowed without credentials while there is none)."""
        query = f"CREATE USER {self.user} WITH PASSWORD '{self.password}' WITH ALL PRIVILEGES"
        for _ in range(50):
            response = httpx.post(f"{self.url}/query", data={"q": query})
            if response.status_code == httpx.codes.OK:
                return
            time.sleep(0.1)
        raise RuntimeError(f"InfluxDB did not create the user: {response.text}")


@contextmanager
def influxdb(directory: Path) -> Iterator[Influx]:
    """A running InfluxDB with an admin user, on free ports."""
    server = Influx(directory)
    server.start()
    try:
        server.create_admin()
        yield server
    finally:
        server.stop()
