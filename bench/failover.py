"""Failover, measured: two monitors on one PostgreSQL behind HAProxy; the active is SIGKILLed.

Mosquitto, PostgreSQL (Debian's) and HAProxy (config/haproxy.cfg, addresses
changed) run on free ports in a temp dir; the monitors run as processes of
their own (``monitor run``) with the default ``failover_s`` (10 s). Chairs
publish at 1 Hz each (QoS 1) throughout, every chair with an open session;
boards are connected through HAProxy and reconnect as dashboard/board.js does
(after 0.5 s, doubling to 4 s at most).

For each kill: the time from SIGKILL until the standby answers ``/readyz``
200 (takeover), and until every board has a snapshot from the new active
(boards back). The killed monitor is started again and must come back as a
standby before the next kill. At the end: readings published, stored,
missing and stored more than once.

    python -m bench.failover [--kills 5] [--chairs 20] [--boards 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

from tests.servers import (
    ChairStream,
    MonitorProcess,
    haproxy,
    mosquitto,
    postgres,
    stored_readings,
)

TOKEN = "bench-failover-bootstrap-token-0123456789"
SITE = "bench"
CALM: dict[str, float] = {"sbp": 120, "dbp": 75, "hr": 70, "rr": 14, "spo2": 98, "etco2": 36}


@dataclass
class Board:
    """A board screen through HAProxy; notes when each connection's first frame came."""

    url: str
    snapshots: list[float] = field(default_factory=list)

    async def run(self) -> None:
        """Stay connected, reconnecting as the board page does, until cancelled."""
        delay = 0.5
        while True:
            try:
                async with websockets.connect(self.url, max_size=None) as socket:
                    delay = 0.5
                    await socket.recv()
                    self.snapshots.append(time.monotonic())
                    async for _ in socket:
                        pass
            except (OSError, websockets.WebSocketException):
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)


async def role(monitor: MonitorProcess) -> str:
    """'active', 'standby', or 'down'."""
    code, body = await monitor.readyz()
    return "active" if code == 200 else str(body.get("role", "down"))


async def until(check: object, timeout_s: float = 60.0) -> float:
    """Wait until ``await check()`` is true; returns when (monotonic)."""
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout_s} s: {check}")
        await asyncio.sleep(0.05)
    return time.monotonic()


async def open_sessions(monitor: MonitorProcess, chairs: list[str]) -> None:
    async with httpx.AsyncClient(base_url=monitor.url, timeout=10,
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for chair in chairs:
            response = await http.post("/api/sessions", json={
                "site": SITE, "bed": chair, "patient_ref": f"p-{chair}"})
            response.raise_for_status()


async def bench(directory: Path, args: argparse.Namespace) -> None:
    (directory / "postgres").mkdir()
    with postgres(directory / "postgres") as server, mosquitto(directory) as broker:
        database = server.create_database("failover")
        env = {"MONITOR_MQTT_URL": broker.url, "MONITOR_MQTT_CLIENT_ID": "bench-monitor",
               "MONITOR_MQTT_SITES": json.dumps([SITE]), "MONITOR_DATABASE_URL": database,
               "MONITOR_STORE": "postgres", "MONITOR_BOOTSTRAP_TOKEN": TOKEN}
        monitors = [MonitorProcess(directory / name, env | {"MONITOR_INSTANCE": name})
                    for name in ("a", "b")]
        try:
            await run_kills(directory, args, monitors, broker.port, database)
        finally:
            for monitor in monitors:
                monitor.stop()


async def run_kills(directory: Path, args: argparse.Namespace, monitors: list[MonitorProcess],
                    broker_port: int, database: str) -> None:
    for monitor, expected in zip(monitors, ("active", "standby"), strict=True):
        monitor.start()
        await until(lambda m=monitor, e=expected: _is(m, e))
    chairs = [f"chair-{n:03d}" for n in range(1, args.chairs + 1)]
    await open_sessions(monitors[0], chairs)
    stream, stop = ChairStream(broker_port, SITE, chairs, lambda _: CALM), asyncio.Event()
    takeovers: list[float] = []
    boards_back: list[float] = []
    with haproxy(directory, [m.port for m in monitors]) as front:
        url = front.replace("http://", "ws://") + f"/ws/board?token={TOKEN}"
        boards = [Board(url) for _ in range(args.boards)]
        async with asyncio.TaskGroup() as group:
            publishing = group.create_task(stream.run(stop))
            watching = [group.create_task(board.run()) for board in boards]
            await until(lambda: _all_connected(boards))
            for kill in range(1, args.kills + 1):
                await asyncio.sleep(args.between_s)
                active, standby = monitors if await _is(monitors[0], "active") else monitors[::-1]
                active.kill()
                killed = time.monotonic()
                took = await until(lambda s=standby: _is(s, "active")) - killed
                back = await until(lambda k=killed: _all_since(boards, k)) - killed
                takeovers.append(took)
                boards_back.append(back)
                print(f"kill {kill}: {active.directory.name} killed; {standby.directory.name} "
                      f"active after {took:.2f} s; {len(boards)} boards back after {back:.2f} s",
                      flush=True)
                active.start()
                await until(lambda a=active: _is(a, "standby"))
            stop.set()
            await publishing
            for task in watching:
                task.cancel()
    with contextlib.suppress(TimeoutError):
        await until(lambda: _settled(stream, database), timeout_s=30)
    stored = stored_readings(database, SITE)
    missing = len(stream.published - set(stored))
    duplicated = sum(count - 1 for count in stored.values())
    print(f"takeover (SIGKILL -> /readyz 200): {_spread(takeovers)}")
    print(f"boards back (SIGKILL -> snapshot through HAProxy): {_spread(boards_back)}")
    print(f"readings: published {len(stream.published)}, stored {len(stored)}, "
          f"missing {missing}, duplicated {duplicated}")


def _spread(seconds: list[float]) -> str:
    return (f"median {statistics.median(seconds):.2f} s, min {min(seconds):.2f} s, "
            f"max {max(seconds):.2f} s over {len(seconds)} kills")


async def _is(monitor: MonitorProcess, expected: str) -> bool:
    return await role(monitor) == expected


async def _all_connected(boards: list[Board]) -> bool:
    return all(board.snapshots for board in boards)


async def _all_since(boards: list[Board], since: float) -> bool:
    return all(board.snapshots and board.snapshots[-1] > since for board in boards)


async def _settled(stream: ChairStream, database: str) -> bool:
    return set(stored_readings(database, SITE)) >= stream.published


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--chairs", type=int, default=20)
    parser.add_argument("--boards", type=int, default=5)
    parser.add_argument("--between-s", type=float, default=5.0,
                        help="seconds of streaming before each kill")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as directory:
        asyncio.run(bench(Path(directory), args))


if __name__ == "__main__":
    main()
