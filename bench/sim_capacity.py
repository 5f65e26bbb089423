"""How many chairs one simulator process sustains at 1 Hz in real time.

Real Mosquitto; chairs share connections (100 chairs per connection) and
publish at QoS 1. A run keeps up when the simulator never falls more than a
second behind its schedule and publishes every reading it is due to.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from device_sim.cli import chair_specs
from device_sim.device import SimulatedMonitor
from device_sim.runner import RunStats, run_devices
from tests.servers import mosquitto

CHAIRS_PER_CONNECTION = 100


async def measure(url: str, chairs: int, seconds: int) -> tuple[RunStats, float, float]:
    devices = [SimulatedMonitor(spec) for spec in chair_specs("cap", chairs, seed=1)]
    stats = RunStats()
    cpu0, wall0 = time.process_time(), time.monotonic()
    await run_devices(url, devices, speed=1.0, qos=1,
                      connections=max(1, chairs // CHAIRS_PER_CONNECTION),
                      duration_s=seconds, stats=stats)
    return stats, time.monotonic() - wall0, time.process_time() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chairs", type=int, nargs="+", default=[1000, 2000, 4000, 6000, 8000])
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    print(f"{'chairs':>7} {'target/s':>9} {'sent/s':>8} {'max lag s':>10} {'CPU %':>6} "
          f"{'keeps up':>9}")
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as broker:
        for chairs in args.chairs:
            stats, wall, cpu = asyncio.run(measure(broker.url, chairs, args.seconds))
            due = chairs * args.seconds
            keeps_up = stats.published >= due and stats.max_lag_s < 1.0
            print(f"{chairs:>7} {chairs:>9} {stats.published / wall:>8.0f} "
                  f"{stats.max_lag_s:>10.2f} {100 * cpu / wall:>6.0f} "
                  f"{'yes' if keeps_up else 'no':>9}", flush=True)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the simulator process: {rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
