"""What a threshold what-if costs the live board: publish -> board latency with and without.

A real Mosquitto and the monitor (its own process, SQLite in a temp dir) are
started as in ``bench.scale``. First ``--sessions`` stored sessions are made:
a session is opened at each bed of a history site, ``--minutes`` of simulated
readings per bed are published at once with device time in the past (as
``tests/integration/test_review.py`` does), and the sessions are ended.

Then ``--chairs`` simulated chairs (``device-sim``, sessions open, a board
client connected) stream at 1 Hz for ``--seconds`` after a warm-up, twice:
once with nothing else going on, once while a client posts
``POST /api/review/what-if`` over all the ended sessions back to back. Each
run prints the board latency (device time -> arrival on the board WebSocket)
p50/p99/max; the second also prints how many what-ifs completed and how long
each took. The target: the what-if adds no more than 10 ms to the board's p99.

Run: ``.venv/bin/python -m bench.what_if_load [--chairs 200] [--sessions 300]
[--minutes 10] [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiomqtt
import httpx
import numpy as np
import orjson
import websockets

from bench.scale import (
    TICKS_PER_S,
    TOKEN,
    Sample,
    bed_names,
    set_sessions,
    start_monitor,
    start_sim,
)
from device_sim.device import ChairSpec, Publish, SimulatedMonitor
from tests.servers import mosquitto

HISTORY_SITE = "history"
PROFILE = "ketamine-default"
TARGET_MS = 10.0


@dataclass
class WhatIfs:
    """The what-ifs that completed during a run."""

    seconds: list[float] = field(default_factory=list)
    failed: int = 0


def api(http_port: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=300,
                             headers={"Authorization": f"Bearer {TOKEN}"})


def stored_count(db: Path, site: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        count: int = connection.execute(
            "SELECT count(*) FROM readings WHERE site = ?", (site,)).fetchone()[0]
    return count


def clock(device: SimulatedMonitor, start_s: float) -> Callable[[], float]:
    """The device's clock: its session time from ``start_s``."""
    return lambda: start_s + device.t_s


async def publish_history(broker_port: int, beds: list[str], seconds: int) -> int:
    """``seconds`` of simulated readings for every bed, device time in the past; the count sent."""
    devices = [SimulatedMonitor(ChairSpec(HISTORY_SITE, bed, f"hist-{bed}", seed))
               for seed, bed in enumerate(beds)]
    start_s = time.time() - seconds - 60
    sent = 0
    async with aiomqtt.Client("127.0.0.1", broker_port, max_inflight_messages=1000) as mqtt:
        mqtt.pending_calls_threshold = 2000
        for _ in range(seconds):
            batch = [e for device in devices for e in device.step(clock(device, start_s))
                     if isinstance(e, Publish)]
            await asyncio.gather(*(mqtt.publish(e.topic, e.payload, qos=1) for e in batch))
            sent += len(batch)
    return sent


async def make_history(broker_port: int, http_port: int, db: Path, *, sessions: int,
                       minutes: float) -> list[str]:
    """Open, fill and end ``sessions`` sessions; returns their ids."""
    beds = bed_names(sessions)
    await set_sessions(http_port, HISTORY_SITE, beds)
    ids = await open_ids(http_port, HISTORY_SITE)
    started = time.monotonic()
    sent = await publish_history(broker_port, beds, round(minutes * 60))
    published = time.monotonic() - started
    deadline, last, last_change = time.monotonic() + 300, -1, time.monotonic()
    while (count := stored_count(db, HISTORY_SITE)) < sent:
        if count != last:
            last, last_change = count, time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - last_change > 20:
            break
        await asyncio.sleep(0.5)
    print(f"history: {len(ids)} sessions x {minutes:g} min: {sent:,} readings published in "
          f"{published:.0f} s, {count:,} stored after {time.monotonic() - started:.0f} s",
          flush=True)
    await end_sessions(http_port, ids)
    return ids


async def post_what_if(http: httpx.AsyncClient, ids: list[str]) -> float:
    """One what-if over ``ids``; its seconds."""
    started = time.monotonic()
    response = await http.post("/api/review/what-if",
                               json={"profile": PROFILE, "session_ids": ids})
    response.raise_for_status()
    if len(response.json()["sessions"]) != len(ids):
        raise RuntimeError("the what-if answered for fewer sessions than asked")
    return time.monotonic() - started


async def what_ifs_until(http_port: int, ids: list[str], stop: asyncio.Event,
                         done: WhatIfs) -> None:
    """What-ifs back to back until ``stop`` is set (the one in flight then is not counted)."""
    async with api(http_port) as http:
        while not stop.is_set():
            call = asyncio.ensure_future(post_what_if(http, ids))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({call, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not call.done():
                call.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await call
                return
            try:
                done.seconds.append(call.result())
            except (httpx.HTTPError, RuntimeError) as error:
                done.failed += 1
                print(f"  what-if failed: {error!r}", flush=True)
                await asyncio.sleep(1)


async def end_sessions(http_port: int, ids: list[str]) -> None:
    """End the sessions, acknowledging their standing alarms."""
    async with api(http_port) as http:
        for start in range(0, len(ids), 50):
            for response in await asyncio.gather(*(
                    http.post(f"/api/sessions/{i}/phase",
                              json={"phase": "ended", "acknowledge_alarms": True})
                    for i in ids[start:start + 50])):
                response.raise_for_status()


async def open_ids(http_port: int, site: str) -> list[str]:
    async with api(http_port) as http:
        response = await http.get("/api/sessions", params={"open": "true"})
        response.raise_for_status()
        return [s["id"] for s in response.json()["sessions"] if s["site"] == site]


def cpu_s(pid: int) -> float:
    """CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


async def board_run(broker_port: int, http_port: int, monitor_pid: int, *, site: str,
                    chairs: int, seconds: int, warmup: int,
                    ids: list[str] | None) -> tuple[Sample, WhatIfs]:
    """``chairs`` for ``warmup`` + ``seconds``, figures of the last ``seconds``.

    With ``ids``, what-ifs over them run back to back through the measured seconds.
    """
    sample, done, stop = Sample(chairs), WhatIfs(), asyncio.Event()
    await set_sessions(http_port, site, bed_names(chairs))
    sim = await start_sim(broker_port, site, chairs, warmup + seconds)
    url = f"ws://127.0.0.1:{http_port}/ws/board?token={TOKEN}"
    loop: asyncio.Task[None] | None = None
    measured_from = time.monotonic() + warmup
    last_arrival = measured_from
    async with websockets.connect(url, max_size=None) as board:
        await board.recv()
        while sim.returncode is None or time.monotonic() < measured_from + seconds:
            if loop is None and ids is not None and time.monotonic() >= measured_from:
                loop = asyncio.create_task(what_ifs_until(http_port, ids, stop, done))
            if not sample.cpu_pct and time.monotonic() >= measured_from:
                sample.cpu_pct.append(cpu_s(monitor_pid))
            try:
                async with asyncio.timeout(1):
                    frame = orjson.loads(await board.recv())
            except TimeoutError:
                if sim.returncode is not None:
                    break
                continue
            now, measuring = time.time(), time.monotonic() >= measured_from
            for message in frame if isinstance(frame, list) else [frame]:
                if message["type"] != "reading":
                    continue
                latency = (now - datetime.fromisoformat(message["ts"]).timestamp()) * 1000
                if measuring:
                    sample.received += 1
                    sample.latencies_ms.append(latency)
                    last_arrival = time.monotonic()
                else:
                    sample.warmup_max_ms = max(sample.warmup_max_ms, latency)
    sample.seconds = last_arrival - measured_from
    if sample.cpu_pct:
        sample.cpu_pct = [100 * (cpu_s(monitor_pid) - sample.cpu_pct[0]) / sample.seconds]
    stop.set()
    if loop is not None:
        await loop
    await sim.wait()
    await end_sessions(http_port, await open_ids(http_port, site))
    return sample, done


def row(name: str, s: Sample) -> tuple[float, str]:
    p50, p99 = np.percentile(s.latencies_ms, [50, 99])
    return float(p99), (f"{name:<16} {s.received:>8,} {s.received / s.seconds:>10.0f} "
                        f"{p50:>9.1f} {p99:>7.1f} {max(s.latencies_ms):>7.1f} "
                        f"{np.mean(s.cpu_pct):>6.0f}")


async def run(broker_port: int, http_port: int, db: Path, monitor_pid: int,
              args: argparse.Namespace) -> None:
    ids = await make_history(broker_port, http_port, db, sessions=args.sessions,
                             minutes=args.minutes)
    async with api(http_port) as http:
        first = await post_what_if(http, ids)
    print(f"first what-if over {len(ids)} sessions (starts the worker): {first:.2f} s",
          flush=True)
    quiet, _ = await board_run(broker_port, http_port, monitor_pid, site="quiet",
                               chairs=args.chairs, seconds=args.seconds, warmup=args.warmup,
                               ids=None)
    busy, done = await board_run(broker_port, http_port, monitor_pid, site="busy",
                                 chairs=args.chairs, seconds=args.seconds, warmup=args.warmup,
                                 ids=ids)
    print(f"\n{args.chairs} chairs at 1 Hz, {args.seconds} s measured; board latency in ms "
          f"(device time -> board WebSocket); CPU % of the monitor's main process")
    print(f"{'':<16} {'readings':>8} {'readings/s':>10} {'p50':>9} {'p99':>7} {'max':>7} "
          f"{'CPU %':>6}")
    p99_quiet, text = row("without what-if", quiet)
    print(text)
    p99_busy, text = row("with what-ifs", busy)
    print(text)
    timings = ", ".join(f"{t:.2f}" for t in done.seconds)
    median = f"{np.median(done.seconds):.2f}" if done.seconds else "-"
    print(f"what-ifs over {len(ids)} sessions completed during the run (measured seconds): "
          f"{len(done.seconds)}, {done.failed} failed; median {median} s; "
          f"seconds each: {timings or '-'}")
    delta = p99_busy - p99_quiet
    verdict = "within" if delta <= TARGET_MS else "OVER"
    print(f"p99 difference: {delta:+.1f} ms ({verdict} the {TARGET_MS:g} ms target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chairs", type=int, default=200, help="live chairs at 1 Hz")
    parser.add_argument("--sessions", type=int, default=300,
                        help="stored (ended) sessions the what-if runs over")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="simulated minutes of readings per stored session")
    parser.add_argument("--seconds", type=int, default=30, help="measured, after the warm-up")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as broker:
        data = Path(directory) / "var"
        monitor, http_port = start_monitor(data, broker.port, "monitor-what-if")
        try:
            asyncio.run(run(broker.port, http_port, data / "monitor.db", monitor.pid, args))
        finally:
            monitor.terminate()
            monitor.wait(timeout=60)
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
