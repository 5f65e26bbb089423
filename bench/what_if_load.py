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
from pathlib import Path

import aiomqtt
import httpx
import numpy as np

from bench.scale import (
    TOKEN,
    Sample,
    bed_names,
    run_chairs,
    set_sessions,
    start_monitor,
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
    await set_sessions(http_port, HISTORY_SITE, [], end=True)
    return ids


async def open_ids(http_port: int, site: str) -> list[str]:
    """The ids of the open sessions of ``site``."""
    async with api(http_port) as http:
        response = await http.get("/api/sessions", params={"open": "true"})
        response.raise_for_status()
        return [str(s["id"]) for s in response.json()["sessions"] if s["site"] == site]


async def post_what_if(http: httpx.AsyncClient, ids: list[str]) -> float:
    """One what-if over ``ids``; its seconds."""
    started = time.monotonic()
    response = await http.post("/api/review/what-if",
                               json={"profile": PROFILE, "session_ids": ids})
    response.raise_for_status()
    if len(response.json()["sessions"]) != len(ids):
        raise RuntimeError("the what-if answered for fewer sessions than asked")
    return time.monotonic() - started


async def what_ifs(http_port: int, ids: list[str], done: WhatIfs) -> None:
    """What-ifs back to back until cancelled (the one in flight then is not counted)."""
    async with api(http_port) as http:
        while True:
            try:
                done.seconds.append(await post_what_if(http, ids))
            except (httpx.HTTPError, RuntimeError) as error:
                done.failed += 1
                print(f"  what-if failed: {error!r}", flush=True)
                await asyncio.sleep(1)


async def no_stored_lag() -> None:
    """This bench does not measure storage lag."""


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
    done = WhatIfs()
    runs = {"quiet": None, "busy": lambda: what_ifs(http_port, ids, done)}
    quiet, busy = [
        await run_chairs(broker_port, http_port, no_stored_lag, monitor_pid=monitor_pid,
                         chairs=args.chairs, seconds=args.seconds, warmup=args.warmup,
                         site=site, during=during)
        for site, during in runs.items()]
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
