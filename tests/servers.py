"""Real servers on free ports in temp dirs, for integration tests and benchmarks."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import httpx
import psycopg
import uvicorn
from psycopg import sql
from starlette.types import ASGIApp

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
ROOT = Path(__file__).parents[1]


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


class MosquittoProcess:
    """A Mosquitto process on ``port`` with ``config``; it can be stopped and started again."""

    def __init__(self, config: Path, port: int) -> None:
        self.config, self.port = config, port
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it listens."""
        if os.geteuid() == 0 and "\nuser " not in self.config.read_text():
            # Started as root, Mosquitto switches to its own user, which cannot
            # reach the test's private temp dirs; stay who we are instead.
            self.config.write_text(self.config.read_text() + "\nuser root\n")
        self._process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop it (it saves its persistent state)."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


def anonymous_mosquitto(directory: Path, port: int, *, persistent: bool) -> MosquittoProcess:
    """An anonymous Mosquitto, not started, that delivers as config/mosquitto.conf sets it to.

    The settings of config/mosquitto.conf that bear on delivery: queues, the
    in-flight window, and each message sent at once (``set_tcp_nodelay``).
    With ``persistent`` it keeps its messages in ``directory`` across a restart.
    """
    config = directory / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        "max_queued_messages 4000000\nmax_queued_bytes 0\nmax_inflight_messages 1000\n"
        "set_tcp_nodelay true\n"
        + (f"persistence true\npersistence_location {directory}/\n" if persistent
           else "persistence false\n")
    )
    return MosquittoProcess(config, port)


@contextmanager
def mosquitto(directory: Path) -> Iterator[Mosquitto]:
    """Mosquitto with the queue and socket settings of config/mosquitto.conf, anonymous."""
    port = free_port()
    process = anonymous_mosquitto(directory, port, persistent=True)
    process.start()
    try:
        yield Mosquitto(port, f"mqtt://127.0.0.1:{port}")
    finally:
        process.stop()


def repo_broker(directory: Path, accounts: dict[str, str]) -> MosquittoProcess:
    """Mosquitto configured by the project's config/mosquitto.conf and .acl, with ``accounts``.

    Only the port and the file locations are changed, so the tests check
    the configuration a clinic deploys.
    """
    passwords = directory / "passwd"
    for index, (user, password) in enumerate(accounts.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run(["mosquitto_passwd", *create, "-b", str(passwords), user, password],
                       check=True, capture_output=True)
    port = free_port()
    text = (ROOT / "config" / "mosquitto.conf").read_text()
    for old, new in [("listener 1883", f"listener {port} 127.0.0.1"),
                     ("/mosquitto/config/passwd", str(passwords)),
                     ("/mosquitto/config/mosquitto.acl", str(ROOT / "config" / "mosquitto.acl")),
                     ("/mosquitto/data/", f"{directory}/")]:
        assert old in text, old
        text = text.replace(old, new)
    config = directory / "mosquitto.conf"
    config.write_text(text)
    return MosquittoProcess(config, port)


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


@asynccontextmanager
async def stuck_screen(port: int, token: str) -> AsyncIterator[socket.socket]:
    """A board client that completes the handshake and then never reads."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(sock, (
        f"GET /ws/board?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert await loop.sock_recv(sock, 12) == b"HTTP/1.1 101"
    try:
        yield sock
    finally:
        sock.close()


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's programs (``/usr/lib/postgresql/<version>/bin``)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda path: int(path.parents[1].name))
    if not found:
        raise FileNotFoundError("no /usr/lib/postgresql/*/bin/initdb: apt-get install postgresql")
    return found[-1].parent


class Postgres:
    """A real PostgreSQL (Debian's ``postgresql``) on a free port, with a password-protected
    user; its socket is in its own directory.

    initdb and postgres refuse to run as root: a root test run runs them as
    ``nobody``, in a directory of their own under the system's temp dir (the
    test's own temp dirs are closed to other users).
    """

    user = "monitor"
    password = "postgres-test-password"

    def __init__(self, directory: Path) -> None:
        self._as_root = os.geteuid() == 0
        self.directory = Path(tempfile.mkdtemp(prefix="postgres-")) if self._as_root else directory
        self.port = free_port()
        self._data = self.directory / "data"
        self._bin = postgres_bin()

    def url(self, database: str = "postgres") -> str:
        """The URL of one of its databases, with the user's password."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "nobody", "--"] if self._as_root else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Make the cluster (the first time) and start the server; return once it answers."""
        if not self._data.exists():
            password_file = self.directory / "password"
            password_file.write_text(self.password)
            if self._as_root:
                shutil.chown(self.directory, "nobody")
                shutil.chown(password_file, "nobody")
            self._run(str(self._bin / "initdb"), "-D", str(self._data), "-U", self.user,
                      f"--pwfile={password_file}", "--auth-local=trust",
                      "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self._bin / "pg_ctl"), "start", "-w", "-D", str(self._data),
                  "-l", str(self.directory / "postgres.log"), "-o", options)

    def stop(self) -> None:
        """Stop the server (fast: open connections are ended)."""
        self._run(str(self._bin / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self._data))

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


@contextmanager
def postgres(directory: Path) -> Iterator[Postgres]:
    """A running PostgreSQL on a free port; removed with its files at the end."""
    server = Postgres(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if server.directory != directory:
            shutil.rmtree(server.directory, ignore_errors=True)


class MonitorProcess:
    """``monitor run`` as a process of its own, set up by ``MONITOR_*`` variables, on a port
    of its own; it can be killed and started again (with the same data directory)."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
            "MONITOR_HTTP_PORT": str(self.port), "MONITOR_DATA_DIR": str(directory)} | env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it; its output goes to ``monitor.log`` in its data directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "monitor.log").open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "monitor", "run"],
                                            env=self.env, cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """An orderly stop (SIGTERM), if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    async def readyz(self) -> tuple[int, dict[str, object]]:
        """``/readyz``: its status code and body ((0, {}) while nothing answers)."""
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                response = await http.get(f"{self.url}/readyz")
        except httpx.TransportError:
            return 0, {}
        return response.status_code, response.json()

    def log(self) -> str:
        """What it has written so far."""
        return (self.directory / "monitor.log").read_text(errors="replace")


@dataclass
class ChairStream:
    """Readings of ``beds`` at ``site`` published once a second each, QoS 1; ``vitals(bed)``
    gives each reading's vitals. ``published`` holds (bed, seq) of every one the broker took."""

    port: int
    site: str
    beds: list[str]
    vitals: Callable[[str], dict[str, float]]
    published: set[tuple[str, int]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event, rate_hz: float = 1.0) -> None:
        """Publish until ``stop`` is set."""
        async with aiomqtt.Client("127.0.0.1", self.port, max_inflight_messages=1000) as client:
            seq = 0
            while not stop.is_set():
                seq += 1
                ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                await asyncio.gather(*(self._publish(client, bed, seq, ts) for bed in self.beds))
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1 / rate_hz)

    async def _publish(self, client: aiomqtt.Client, bed: str, seq: int, ts: str) -> None:
        await client.publish(f"infusion/{self.site}/{bed}/vitals", json.dumps({
            "v": 1, "device_id": f"mon-{bed}", "seq": seq, "ts": ts, "vitals": self.vitals(bed)}),
            qos=1)
        self.published.add((bed, seq))


def stored_readings(url: str, site: str) -> dict[tuple[str, int], int]:
    """(bed, seq) -> how many times it is stored, of a site's readings in PostgreSQL."""
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT bed, seq, count(*) FROM readings WHERE site = %s "
                          "GROUP BY bed, seq", (site,)).fetchall()
    return {(bed, seq): count for bed, seq, count in rows}


HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


@contextmanager
def haproxy(directory: Path, monitors: list[int]) -> Iterator[str]:
    """config/haproxy.cfg in front of the monitors on ``monitors`` ports; yields its URL.

    Only the addresses are changed, so the tests check the configuration a
    clinic deploys.
    """
    port = free_port()
    text = (ROOT / "config" / "haproxy.cfg").read_text()
    changes = [("bind :8000", f"bind 127.0.0.1:{port}"),
               *((f"server monitor-{name} monitor-{name}:8000",
                  f"server monitor-{name} 127.0.0.1:{monitor_port}")
                 for name, monitor_port in zip("ab", monitors, strict=True))]
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    config = directory / "haproxy.cfg"
    config.write_text(text)
    with (directory / "haproxy.log").open("ab") as log:
        process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
