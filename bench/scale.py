"""The monitor at clinic-group scale: N chairs at 1 Hz, against a real Mosquitto.

For each N: the monitor runs as its own process (SQLite) and ``device-sim``
as another. Every chair has an open session, so each reading goes through
validation, the alarm engine, storage and the board. A board client here
times each reading from its device timestamp to its arrival (publish ->
board), and the newest stored reading is polled (publish -> stored). CPU and
RSS of the monitor are read from /proc.

The backlog run: 100,000 readings queued at the broker for a stopped
subscriber, drained by a bare aiomqtt subscriber that only parses JSON, and
by the monitor (sessions open, a board connected); the monitor's rate is
given as a share of the bare one.

The soak run (``--soak-chairs``) runs the simulator ``--soak-speed`` times
faster than real time until an hour of every chair's readings has gone
through, and prints the monitor's RSS as it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import numpy as np
import orjson
import websockets

from tests.servers import Influx, free_port, influxdb, mosquitto, wait_for_port

TOKEN = "bench-scale-bootstrap-token-0123456789"
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
BACKLOG_BEDS = 500
INFLUX_DB = "bench"
HOUR_S = 3600


@dataclass
class Sample:
    """One run's figures."""

    chairs: int
    received: int = 0
    frames: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    warmup_max_ms: float = 0.0
    stored_lag_ms: list[float] = field(default_factory=list)
    cpu_pct: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)


def proc_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds so far, RSS MiB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS_PER_S
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text()
               .splitlines() if line.startswith("VmRSS")) / 1024
    return cpu, rss


def start_monitor(directory: Path, broker_port: int, client_id: str,
                  wrapper: tuple[str, ...] = (), extra_env: dict[str, str] | None = None,
                  ) -> tuple[subprocess.Popen[bytes], int]:
    """The monitor as a process of its own (run under ``wrapper``, e.g. a profiler)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
        "MONITOR_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}", "MONITOR_HTTP_PORT": str(port),
        "MONITOR_DATA_DIR": str(directory), "MONITOR_BOOTSTRAP_TOKEN": TOKEN,
        "MONITOR_MQTT_CLIENT_ID": client_id,
    } | (extra_env or {})
    process = subprocess.Popen([*wrapper, sys.executable, "-m", "monitor", "run"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, timeout_s=60)
    return process, port


def bed_names(beds: int) -> list[str]:
    """The bed names device-sim gives ``beds`` chairs."""
    width = max(2, len(str(beds)))
    return [f"bed-{n:0{width}d}" for n in range(1, beds + 1)]


async def set_sessions(http_port: int, site: str, beds: list[str], *, end: bool = False) -> None:
    """Open a session at every bed of ``site`` (or end the open ones)."""
    # A connection idle for the server's keep-alive (5 s) may be closed by it just as it is
    # reused (a batch can take that long beside a busy loop): idle ones are not reused after 1 s.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=60,
                                 limits=httpx.Limits(keepalive_expiry=1.0),
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        if end:
            response = await api.get("/api/sessions", params={"open": "true"})
            response.raise_for_status()
            ids = [s["id"] for s in response.json()["sessions"] if s["site"] == site]
            ended = {"phase": "ended", "acknowledge_alarms": True}
            calls = [api.post(f"/api/sessions/{i}/phase", json=ended) for i in ids]
        else:
            calls = [api.post("/api/sessions", json={"site": site, "bed": bed,
                                                     "patient_ref": f"bench-{bed}"})
                     for bed in beds]
        for start in range(0, len(calls), 50):
            for response in await asyncio.gather(*calls[start:start + 50]):
                response.raise_for_status()


def start_sim(broker_port: int, site: str, chairs: int, seconds: int,
              speed: float = 1.0) -> asyncio.Future[asyncio.subprocess.Process]:
    return asyncio.ensure_future(asyncio.create_subprocess_exec(
        sys.executable, "-m", "device_sim", "--broker", f"mqtt://127.0.0.1:{broker_port}",
        "--site", site, "--beds", str(chairs), "--connections", str(max(1, chairs // 100)),
        "--duration", str(seconds), "--speed", str(speed),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


NewestStored = Callable[[], Awaitable[int | None]]


def newest_in_sqlite(db: Path) -> NewestStored:
    """Device time of the reading stored last in SQLite (by the index on arrival time)."""
    def query() -> int | None:
        with contextlib.closing(sqlite3.connect(db)) as connection:
            row = connection.execute(
                "SELECT ts_ms FROM readings ORDER BY received_ms DESC LIMIT 1").fetchone()
        return row[0] if row else None
    return lambda: asyncio.to_thread(query)


def newest_in_influx(influx: Influx) -> NewestStored:
    """Device time of the newest reading InfluxDB holds (of the last minute)."""
    async def query() -> int | None:
        async with httpx.AsyncClient(base_url=influx.url, timeout=10,
                                     auth=(influx.user, influx.password)) as http:
            response = await http.get("/query", params={
                "db": INFLUX_DB, "epoch": "ms",
                "q": 'SELECT last("seq") FROM "vitals" WHERE time > now() - 1m'})
        series = response.json()["results"][0].get("series")
        return int(series[0]["values"][0][0]) if series else None
    return query


async def run_chairs(broker_port: int, http_port: int, newest_stored: NewestStored, *,
                     monitor_pid: int, chairs: int, seconds: int, warmup: int,
                     site: str | None = None,
                     during: Callable[[], Coroutine[Any, Any, None]] | None = None) -> Sample:
    """Run ``chairs`` for ``warmup`` + ``seconds``; figures are of the last ``seconds``.

    The warm-up (each chair's first readings, which set up its state in the
    monitor) is reported as its own maximum latency. ``during`` runs through
    the measured seconds and is cancelled at their end.
    """
    sample = Sample(chairs)
    site = site or f"s{chairs}"
    load: asyncio.Task[None] | None = None
    await set_sessions(http_port, site, bed_names(chairs))
    sim = await start_sim(broker_port, site, chairs, warmup + seconds)
    url = f"ws://127.0.0.1:{http_port}/ws/board?token={TOKEN}"
    measured_from = time.monotonic() + warmup
    last_arrival = measured_from
    last_cpu, last_t = proc_usage(monitor_pid)[0], time.monotonic()
    async with websockets.connect(url, max_size=None) as board:
        await board.recv()
        while sim.returncode is None or time.monotonic() < measured_from + seconds:
            if during is not None and load is None and time.monotonic() >= measured_from:
                load = asyncio.create_task(during(), name="bench-load")
            try:
                async with asyncio.timeout(1):
                    frame = orjson.loads(await board.recv())
            except TimeoutError:
                if sim.returncode is not None:
                    break
                continue
            now, measuring = time.time(), time.monotonic() >= measured_from
            for message in frame if isinstance(frame, list) else [frame]:
                if message["type"] == "reading":
                    latency = (now - datetime.fromisoformat(message["ts"]).timestamp()) * 1000
                    if measuring:
                        sample.received += 1
                        sample.latencies_ms.append(latency)
                        last_arrival = time.monotonic()
                    else:
                        sample.warmup_max_ms = max(sample.warmup_max_ms, latency)
            if time.monotonic() - last_t >= 1:
                cpu, rss = proc_usage(monitor_pid)
                if measuring:
                    sample.cpu_pct.append(100 * (cpu - last_cpu) / (time.monotonic() - last_t))
                    sample.rss_mib.append(rss)
                    newest = await newest_stored()
                    if newest:
                        sample.stored_lag_ms.append(time.time() * 1000 - newest)
                last_cpu, last_t = cpu, time.monotonic()
    sample.seconds = last_arrival - measured_from
    if load is not None:
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
    await sim.wait()
    await set_sessions(http_port, site, [], end=True)
    return sample


async def soak(broker_port: int, http_port: int, *, monitor_pid: int, chairs: int,
               speed: float) -> list[tuple[float, float]]:
    """(seconds, RSS MiB) of the monitor every 10 s while an hour of ``chairs`` goes through."""
    site = f"soak{chairs}"
    await set_sessions(http_port, site, bed_names(chairs))
    seconds = int(HOUR_S / speed)
    sim = await start_sim(broker_port, site, chairs, HOUR_S, speed)
    started = time.monotonic()
    points = []
    while sim.returncode is None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await sim.wait()
        elapsed = time.monotonic() - started
        points.append((elapsed, proc_usage(monitor_pid)[1]))
        print(f"  soak {elapsed:5.0f} s of {seconds}: RSS {points[-1][1]:.1f} MiB", flush=True)
    await set_sessions(http_port, site, [], end=True)
    return points


def backlog_payload(n: int) -> str:
    """Reading ``n`` of the backlog: 500 beds, each one reading a second."""
    bed, second = n % BACKLOG_BEDS, n // BACKLOG_BEDS
    ts = datetime.fromtimestamp(1_795_000_000 + second, UTC).isoformat(timespec="milliseconds")
    return json.dumps({"v": 1, "device_id": f"d{bed}", "seq": second,
                       "ts": ts.replace("+00:00", "Z"),
                       "vitals": {"hr": 70 + second % 7, "spo2": 97, "rr": 14, "etco2": 38}})


async def queue_backlog(broker_port: int, client_id: str, count: int) -> None:
    """Make a persistent session for ``client_id`` and queue ``count`` readings for it."""
    async with aiomqtt.Client("127.0.0.1", broker_port, identifier=client_id,
                              clean_session=False) as client:
        await client.subscribe("infusion/+/+/vitals", qos=1)
    async with aiomqtt.Client("127.0.0.1", broker_port, max_inflight_messages=1000) as pub:
        pub.pending_calls_threshold = 2000
        for start in range(0, count, 1000):
            await asyncio.gather(*(pub.publish(
                f"infusion/backlog/b{n % BACKLOG_BEDS}/vitals", backlog_payload(n), qos=1)
                for n in range(start, min(start + 1000, count))))


@dataclass(frozen=True)
class Drain:
    """How fast a backlog was drained, and the drainer's CPU time for it."""

    rate: float
    """Readings a second."""
    cpu_us: float
    """CPU microseconds a reading (of the draining process, less sensitive to other load)."""


async def bare_drain(broker_port: int, count: int) -> Drain:
    """A bare subscriber that only parses JSON, draining a backlog."""
    await queue_backlog(broker_port, "bare", count)
    got = 0
    started, cpu = time.monotonic(), time.process_time()
    async with aiomqtt.Client("127.0.0.1", broker_port, identifier="bare",
                              clean_session=False) as client:
        await client.subscribe("infusion/+/+/vitals", qos=1)
        async for message in client.messages:
            json.loads(message.payload)
            got += 1
            if got == count:
                break
        drain = Drain(count / (time.monotonic() - started),
                      (time.process_time() - cpu) * 1e6 / count)
        # so that the monitor's backlog is not queued for this session too
        await client.unsubscribe("infusion/+/+/vitals")
    return drain


async def monitor_drain(directory: Path, broker_port: int, count: int,
                        wrapper: tuple[str, ...] = (),
                        extra_env: dict[str, str] | None = None) -> Drain:
    """The monitor (validation, alarms, storage, a board) draining the backlog.

    The monitor is started with sessions open at the backlog's beds and a
    board connected, then the backlog is queued for it while it is stopped.
    The time runs from the first reading received (the monitor's start-up
    is not counted) until the last is stored. The CPU time is the process's
    from its start-up on (the wrapper's, if there is one).
    """
    process, http_port = start_monitor(directory, broker_port, "monitor-drain",
                                       extra_env=extra_env)
    await set_sessions(http_port, "backlog", [f"b{n}" for n in range(BACKLOG_BEDS)])
    process.terminate()
    process.wait(timeout=60)
    await queue_backlog(broker_port, "monitor-drain", count)
    db = directory / "monitor.db"
    process, http_port = start_monitor(directory, broker_port, "monitor-drain", wrapper,
                                       extra_env)
    url = f"ws://127.0.0.1:{http_port}/ws/board?token={TOKEN}"
    query = "SELECT count(*), min(received_ms) FROM readings WHERE site = 'backlog'"
    cpu = proc_usage(process.pid)[0]
    try:
        async with websockets.connect(url, max_size=None) as board:
            reading = asyncio.create_task(_discard(board))
            while True:
                await asyncio.sleep(0.1)
                with contextlib.closing(sqlite3.connect(db)) as connection:
                    stored, first_ms = connection.execute(query).fetchone()
                if stored >= count:
                    reading.cancel()
                    return Drain(count / (time.time() - first_ms / 1000),
                                 (proc_usage(process.pid)[0] - cpu) * 1e6 / count)
    finally:
        process.send_signal(signal.SIGINT)  # the monitor stops in order; a profiler writes out
        process.wait(timeout=60)


async def _discard(board: websockets.ClientConnection) -> None:
    async for _ in board:
        pass


def sweep(args: argparse.Namespace) -> None:
    """The chair sweep, then the soak run if asked for, on one monitor."""
    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory())
        broker = stack.enter_context(mosquitto(Path(directory)))
        data = Path(directory) / "var"
        newest_stored = newest_in_sqlite(data / "monitor.db")
        env = {"MONITOR_MQTT_PROTOCOL": args.protocol}
        if args.store == "influx":
            (Path(directory) / "influx").mkdir()
            influx = stack.enter_context(influxdb(Path(directory) / "influx"))
            newest_stored = newest_in_influx(influx)
            env |= {"MONITOR_STORE": "influx", "MONITOR_INFLUX_URL": influx.url,
                   "MONITOR_INFLUX_DB": INFLUX_DB, "MONITOR_INFLUX_USERNAME": influx.user,
                   "MONITOR_INFLUX_PASSWORD": influx.password}
        monitor, http_port = start_monitor(data, broker.port, "monitor-scale", extra_env=env)
        print(f"{'chairs':>6} {'readings/s':>10} {'board p50':>9} {'p99':>7} {'max':>7} "
              f"{'warm-up max':>11} {'stored lag':>10} {'CPU %':>6} {'RSS MiB start/end':>18}",
              flush=True)
        try:
            for chairs in args.chairs:
                s = asyncio.run(run_chairs(broker.port, http_port, newest_stored,
                                           monitor_pid=monitor.pid, chairs=chairs,
                                           seconds=args.seconds, warmup=args.warmup))
                p50, p99 = np.percentile(s.latencies_ms, [50, 99])
                print(f"{chairs:>6} {s.received / s.seconds:>10.0f} {p50:>9.1f} {p99:>7.1f} "
                      f"{max(s.latencies_ms):>7.0f} {s.warmup_max_ms:>11.0f} "
                      f"{np.median(s.stored_lag_ms):>9.0f}ms "
                      f"{np.mean(s.cpu_pct):>6.0f} {s.rss_mib[0]:>8.0f} / {s.rss_mib[-1]:<7.0f}",
                      flush=True)
            if args.soak_chairs:
                points = asyncio.run(soak(broker.port, http_port, monitor_pid=monitor.pid,
                                          chairs=args.soak_chairs, speed=args.soak_speed))
                settled = next(rss for t, rss in points if t >= 60)
                print(f"soak, {args.soak_chairs} chairs for one hour at x{args.soak_speed:g}: "
                      f"RSS {settled:.1f} MiB after 60 s, {points[-1][1]:.1f} MiB at the end "
                      f"({100 * (points[-1][1] / settled - 1):+.1f} %)", flush=True)
        finally:
            monitor.terminate()
            monitor.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chairs", type=int, nargs="+", default=[100, 500, 1000, 2000, 5000])
    parser.add_argument("--seconds", type=int, default=30, help="measured, after the warm-up")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--backlog-only", action="store_true",
                        help="only the backlog run: no chair sweep, no soak run")
    parser.add_argument("--soak-chairs", type=int, default=0,
                        help="chairs for the soak run (0: no soak run)")
    parser.add_argument("--soak-speed", type=float, default=10.0)
    parser.add_argument("--protocol", choices=["5", "3.1.1"], default="5",
                        help="the monitor's MQTT protocol version")
    parser.add_argument("--store", choices=["sqlite", "influx"], default="sqlite",
                        help="where the monitor keeps readings (influx: a real InfluxDB, "
                        "started here, through the outbox)")
    args = parser.parse_args()
    if not args.backlog_only:
        sweep(args)
    # A broker of its own, so no session of the runs above queues the backlog too.
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as broker:
        bare = asyncio.run(bare_drain(broker.port, args.backlog))
        ours = asyncio.run(monitor_drain(Path(directory) / "drain", broker.port, args.backlog,
                                         extra_env={"MONITOR_MQTT_PROTOCOL": args.protocol}))
    print(f"backlog of {args.backlog:,}: bare subscriber {bare.rate:,.0f}/s "
          f"({bare.cpu_us:.0f} µs CPU a reading), monitor {ours.rate:,.0f}/s "
          f"({ours.cpu_us:.0f} µs CPU a reading) ({100 * ours.rate / bare.rate:.0f} % of bare)")


if __name__ == "__main__":
    main()
