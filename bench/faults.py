"""Fault runs at length: broker restarted, monitor SIGKILLed, store down for 60 s.

Prints, for each, readings published against stored, duplicates, and whether
the fault's technical alarm was raised and cleared.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from tests.fault_runs import FaultResult, broker_restart, monitor_killed, store_down
from tests.servers import influxdb, mosquitto


async def run_all(directory: Path, count: int, rate_hz: float, store_down_s: float,
                  broker_down_s: float) -> list[FaultResult]:
    for name in ("broker", "monitor", "store", "influx", "mosquitto"):
        (directory / name).mkdir()
    results = [await broker_restart(directory / "broker", count, rate_hz, broker_down_s)]
    with mosquitto(directory / "mosquitto") as broker:
        results.append(await monitor_killed(directory / "monitor", broker.port, count, rate_hz))
        with influxdb(directory / "influx") as influx:
            results.append(await store_down(directory / "store", broker.port, influx, count,
                                            rate_hz, store_down_s))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readings", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=40.0, help="readings per second")
    parser.add_argument("--store-down", type=float, default=60.0, help="seconds")
    parser.add_argument("--broker-down", type=float, default=10.0, help="seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        results = asyncio.run(run_all(Path(directory), args.readings, args.rate,
                                      args.store_down, args.broker_down))
    print(f"{'fault':<22} {'published':>9} {'stored':>7} {'dupl.':>6}  {'alarm':<18} "
          f"{'raised':<6} {'cleared':<7}")
    for r in results:
        cleared = "n/a" if r.alarm == "monitor_restarted" else "yes" if r.cleared else "NO"
        print(f"{r.fault:<22} {r.published:>9} {r.stored:>7} {r.duplicates:>6}  {r.alarm:<18} "
              f"{'yes' if r.raised else 'NO':<6} {cleared:<7}")


if __name__ == "__main__":
    main()
