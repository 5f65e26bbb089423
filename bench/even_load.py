"""Publish -> board latency at an even rate from thousands of devices new to the monitor.

An independent aiomqtt publisher (a process of its own, on 16 connections)
sends ``--rate`` readings a second, evenly spread, from ``--devices`` devices
the monitor has never seen, each with an open session, to a monitor (its own process, SQLite)
with a board connected. Latency runs from the reading's timestamp, taken just
before it is published, to its arrival on the board. p99 is over the whole
run: no warm-up is left out. The publisher and the timing process run on
uvloop, as the monitor does, and the timing process only stamps each frame's
arrival while it runs, parsing them afterwards, so that the rig takes as
little of the machine as it can. ``frames`` is how many WebSocket frames
carried the run's readings to the board. With ``--busy``, each rate runs a
second time with a CPU-bound busy-loop process sharing the machine.

Each rate also runs with a bare aiomqtt subscriber in the monitor's place
(the ``bare`` rows): publish -> receive through the same broker, on a topic
root the idle monitor does not subscribe to; what this publisher and machine
allow before any monitor work.

Run: ``.venv/bin/python -m bench.even_load [--rate 1000 4000] [--devices 4000]
[--seconds 30] [--busy] [--receivers bare monitor]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import numpy as np
import orjson
import uvloop
import websockets

from bench.scale import TOKEN, Sample, bed_names, proc_usage, set_sessions, start_monitor
from tests.servers import mosquitto

TICK_S = 0.001
CONNECTIONS = 16  # the publisher's connections to the broker, shared by its devices
BUSY_LOOP = "while True: pass"
BARE_ROOT = "bench-bare"  # a topic root the monitor does not subscribe to


async def publish_evenly(port: int, root: str, devices: int, rate: float, seconds: float) -> None:
    """``rate`` readings a second to ``root/<bed>/vitals``, round-robin over ``devices``.

    The due readings are sent every millisecond.

    Each reading is stamped and handed to its device's connection at once;
    its PUBACK is awaited in a task of its own, so one slow acknowledgement
    holds up no later reading. The devices share ``CONNECTIONS`` connections,
    so that the costs that grow with the messages in flight on one client stay
    small: aiomqtt checks each new publish against every pending one (a scan
    of all of them), and with a bounded in-flight window paho walks every
    message in flight on each PUBACK. On one connection, a stretch where
    acknowledgements lagged made this publisher, not the receiver, fall
    seconds behind and never catch up; the window is unlimited (0) too.
    """
    beds = bed_names(devices)
    seqs = [0] * devices
    in_flight: set[asyncio.Future[None]] = set()
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(
            aiomqtt.Client("127.0.0.1", port, max_inflight_messages=0))
            for _ in range(CONNECTIONS)]
        for client in clients:
            client.pending_calls_threshold = 1_000_000
        started = time.monotonic()
        sent = 0
        total = int(rate * seconds)
        while sent < total:
            for _ in range(min(total, int((time.monotonic() - started) * rate)) - sent):
                n = sent % devices
                ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                payload = orjson.dumps({"v": 1, "device_id": f"ev-{n}", "seq": seqs[n], "ts": ts,
                                        "vitals": {"hr": 72, "spo2": 98, "rr": 14, "etco2": 36}})
                seqs[n] += 1
                sent += 1
                publish = asyncio.ensure_future(clients[n % CONNECTIONS].publish(
                    f"{root}/{beds[n]}/vitals", payload, qos=1, timeout=math.inf))
                in_flight.add(publish)
                publish.add_done_callback(in_flight.discard)
            await asyncio.sleep(TICK_S)
        if in_flight:
            await asyncio.gather(*in_flight)


def publisher_main() -> None:
    """The publisher process: ``python -m bench.even_load --publish PORT ROOT DEVICES RATE S``."""
    port, root, devices, rate, seconds = sys.argv[2:7]
    uvloop.run(publish_evenly(int(port), root, int(devices), float(rate), float(seconds)))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection in this process while it times: its pauses are not the receiver's."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def finish(publisher: asyncio.subprocess.Process, timeout_s: float) -> None:
    """Wait for the publisher; one that cannot get its readings out in time is stopped."""
    try:
        async with asyncio.timeout(timeout_s):
            await publisher.wait()
    except TimeoutError:
        print(f"  (the publisher did not finish in {timeout_s:.0f} s: stopped)", flush=True)
        publisher.kill()
        await publisher.wait()


async def measure(broker_port: int, http_port: int, monitor_pid: int, *, site: str,
                  devices: int, rate: float, seconds: float) -> Sample:
    """One run: sessions opened at every device's bed, then the publisher; all of it timed.

    While it runs, each frame is only stamped with its arrival and kept; the
    readings in it are counted by their opening bytes, and parsed once the
    run is over, so that this process takes as little of the machine as it
    can while the monitor is timed.
    """
    sample = Sample(devices)
    await set_sessions(http_port, site, bed_names(devices))
    expected = int(rate * seconds)
    needle = b'{"type":"reading","site":' + orjson.dumps(site) + b","
    arrivals: list[tuple[float, bytes]] = []
    url = f"ws://127.0.0.1:{http_port}/ws/board?token={TOKEN}"
    async with websockets.connect(url, max_size=None) as board:
        await board.recv()
        cpu_before, _ = proc_usage(monitor_pid)
        started = time.monotonic()
        publisher = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.even_load", "--publish", str(broker_port),
            f"infusion/{site}", str(devices), str(rate), str(seconds))
        try:
            with collector_paused():
                seen = 0
                while seen < expected:
                    try:
                        async with asyncio.timeout(5):
                            frame = await board.recv(decode=False)
                    except TimeoutError:
                        break
                    arrivals.append((time.time(), frame))
                    seen += frame.count(needle)
        finally:
            await finish(publisher, seconds + 60)
    sample.seconds = time.monotonic() - started
    sample.cpu_pct.append(100 * (proc_usage(monitor_pid)[0] - cpu_before) / sample.seconds)
    sample.frames = len(arrivals)
    for arrived, frame in arrivals:
        parsed = orjson.loads(frame)
        for message in parsed if isinstance(parsed, list) else [parsed]:
            if message["type"] == "reading" and message["site"] == site:
                sent = datetime.fromisoformat(message["ts"]).timestamp()
                sample.latencies_ms.append((arrived - sent) * 1000)
                sample.received += 1
    await set_sessions(http_port, site, [], end=True)
    return sample


async def measure_bare(broker_port: int, *, site: str, devices: int, rate: float,
                       seconds: float) -> Sample:
    """The same publisher, received by a bare aiomqtt subscriber instead of the monitor.

    As in :func:`measure`, payloads are stamped and kept, and parsed after the run.
    """
    sample = Sample(devices)
    expected = int(rate * seconds)
    arrivals: list[tuple[float, bytes]] = []
    async with aiomqtt.Client("127.0.0.1", broker_port) as subscriber:
        await subscriber.subscribe(f"{BARE_ROOT}/{site}/+/vitals", qos=1)
        started = time.monotonic()
        publisher = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.even_load", "--publish", str(broker_port),
            f"{BARE_ROOT}/{site}", str(devices), str(rate), str(seconds))
        try:
            with collector_paused(), contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds + 30):
                    async for message in subscriber.messages:
                        arrivals.append((time.time(), message.payload))
                        if len(arrivals) >= expected:
                            break
        finally:
            await finish(publisher, seconds + 60)
    sample.seconds = time.monotonic() - started
    for arrived, payload in arrivals:
        sent = datetime.fromisoformat(orjson.loads(payload)["ts"]).timestamp()
        sample.latencies_ms.append((arrived - sent) * 1000)
    sample.received = len(arrivals)
    return sample


def main() -> None:
    if sys.argv[1:2] == ["--publish"]:
        publisher_main()
        return
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, nargs="+", default=[1000.0, 4000.0])
    parser.add_argument("--devices", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--busy", action="store_true", help="also run beside a busy loop")
    parser.add_argument("--receivers", nargs="+", choices=("bare", "monitor"),
                        default=["bare", "monitor"])
    args = parser.parse_args()
    print(f"{'rate/s':>7} {'receiver':>8} {'busy':>5} {'received':>9} {'p50 ms':>7} "
          f"{'p99 ms':>8} {'max ms':>8} {'monitor CPU %':>13} {'frames':>7}", flush=True)
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as broker:
        monitor, http_port = start_monitor(Path(directory) / "var", broker.port, "monitor-even")
        try:
            runs = [(rate, False) for rate in args.rate]
            runs += [(rate, True) for rate in args.rate] if args.busy else []
            for index, (rate, busy) in enumerate(runs):
                for receiver in args.receivers:
                    loop = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if busy else None
                    try:
                        s = uvloop.run(
                            measure(broker.port, http_port, monitor.pid, site=f"even{index}",
                                    devices=args.devices, rate=rate, seconds=args.seconds)
                            if receiver == "monitor" else
                            measure_bare(broker.port, site=f"bare{index}", devices=args.devices,
                                         rate=rate, seconds=args.seconds))
                    finally:
                        if loop is not None:
                            loop.kill()
                            loop.wait()
                    p50, p99 = np.percentile(s.latencies_ms, [50, 99])
                    cpu = f"{s.cpu_pct[0]:>13.0f}" if s.cpu_pct else f"{'':>13}"
                    frames = f"{s.frames:>7,}" if receiver == "monitor" else f"{'':>7}"
                    print(f"{rate:>7.0f} {receiver:>8} {'yes' if busy else 'no':>5} "
                          f"{s.received:>9,} {p50:>7.1f} {p99:>8.1f} {max(s.latencies_ms):>8.1f} "
                          f"{cpu} {frames}", flush=True)
        finally:
            monitor.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                monitor.wait(timeout=60)


if __name__ == "__main__":
    main()
