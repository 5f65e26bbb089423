"""A stuck board screen while 500 chairs publish: ingest rate and another screen's latency.

Real Mosquitto; 500 simulated chairs at 1 Hz (5 connections) into one monitor;
one board screen reads everything and times each reading from its device
timestamp to its arrival. The run is done twice: without, then with, a
screen that completed its handshake and never reads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import websockets
from pydantic import SecretStr

from device_sim.cli import chair_specs
from device_sim.device import SimulatedMonitor
from device_sim.runner import run_devices
from monitor.service import Started, run_monitor
from monitor.settings import Settings
from tests.servers import mosquitto, stuck_screen

TOKEN = "bench-ws-bootstrap-token-0123456789"


async def phase(started: Started, broker_url: str, chairs: int, seconds: int,
                stuck: bool) -> tuple[float, list[float]]:
    devices = [SimulatedMonitor(s) for s in chair_specs("ws", chairs, seed=3)]
    port = int(started.dashboard_url.rstrip("/").rsplit(":", 1)[1])
    latencies: list[float] = []
    received = 0
    url = started.dashboard_url.replace("http://", "ws://") + f"ws/board?token={TOKEN}"
    async with contextlib.AsyncExitStack() as stack:
        if stuck:
            await stack.enter_async_context(stuck_screen(port, TOKEN))
        screen = await stack.enter_async_context(websockets.connect(url, max_size=None))
        await screen.recv()
        publishing = asyncio.create_task(run_devices(
            broker_url, devices, connections=5, duration_s=seconds))
        began = time.monotonic()
        while not publishing.done() or time.monotonic() - began < seconds + 1:
            try:
                async with asyncio.timeout(1):
                    frame = json.loads(await screen.recv())
            except TimeoutError:
                if publishing.done():
                    break
                continue
            now = time.time()
            for message in frame if isinstance(frame, list) else [frame]:
                if message["type"] == "reading":
                    received += 1
                    stamp = message["ts"].replace("Z", "+00:00")
                    latencies.append((now - _epoch(stamp)) * 1000)
        await publishing
    return received / seconds, latencies


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def main_async(chairs: int, seconds: int) -> None:
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as broker:
        settings = Settings(mqtt_url=broker.url, mqtt_client_id="bench-ws", http_port=0,
                            data_dir=Path(directory) / "var", paging_file=None,
                            bootstrap_token=SecretStr(TOKEN), ws_send_timeout_s=5.0)
        stop = asyncio.Event()
        ready: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
        monitor = asyncio.create_task(run_monitor(settings, stop=stop,
                                                  on_started=ready.set_result))
        started = await ready
        print(f"{chairs} chairs at 1 Hz for {seconds} s each")
        print(f"{'stuck screen':<13} {'readings/s on screen':>21} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8}")
        for stuck in (False, True):
            rate, latencies = await phase(started, broker.url, chairs, seconds, stuck)
            p50, p99 = np.percentile(latencies, [50, 99])
            print(f"{'yes' if stuck else 'no':<13} {rate:>21.0f} {p50:>8.1f} {p99:>8.1f} "
                  f"{max(latencies):>8.1f}", flush=True)
        stop.set()
        await monitor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chairs", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main_async(args.chairs, args.seconds))


if __name__ == "__main__":
    main()
