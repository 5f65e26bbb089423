"""Fault runs at length: broker restarted, monitor SIGKILLed, store down for 60 s, a
poison message, the disk full for 30 s, the session lost at the broker, the client id
taken over.

Prints, for each, readings published against stored, missing and duplicated, and
the fault's alarm: whether it was raised, how long after the fault, and whether it
cleared. Needs root (the full disk is a tmpfs it mounts).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from tests.fault_runs import (
    FaultResult,
    broker_restart,
    client_id_taken,
    disk_full,
    monitor_killed,
    poison_message,
    session_lost,
    store_down,
)
from tests.servers import influxdb, mosquitto


async def run_all(directory: Path, count: int, *, rate_hz: float, store_down_s: float,
                  broker_down_s: float, disk_full_s: float) -> list[FaultResult]:
    for name in ("broker", "monitor", "store", "influx", "mosquitto", "poison", "disk",
                 "session", "takeover"):
        (directory / name).mkdir()
    results = [await broker_restart(directory / "broker", count, rate_hz, broker_down_s),
               await session_lost(directory / "session", count, rate_hz)]
    with mosquitto(directory / "mosquitto") as broker:
        results.append(await monitor_killed(directory / "monitor", broker.port, count, rate_hz))
        results.append(await poison_message(directory / "poison", broker.port, count, rate_hz))
        results.append(await disk_full(directory / "disk", broker.port, count, rate_hz,
                                       disk_full_s))
        results.append(await client_id_taken(directory / "takeover", broker.port, count,
                                             rate_hz))
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
    parser.add_argument("--disk-full", type=float, default=30.0, help="seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        results = asyncio.run(run_all(
            Path(directory), args.readings, rate_hz=args.rate, store_down_s=args.store_down,
            broker_down_s=args.broker_down, disk_full_s=args.disk_full))
    print(f"{'fault':<24} {'published':>9} {'stored':>7} {'missing':>7} {'dupl.':>6}  "
          f"{'alarm':<20} {'raised':<6} {'after':>7} {'cleared':<7}")
    for r in results:
        event = r.alarm in ("monitor_restarted", "broker_session_lost") or "dead" in r.alarm
        cleared = "n/a" if event else "yes" if r.cleared else "NO"
        after = "" if r.raised_after_s is None else f"{r.raised_after_s:.1f} s"
        missing = r.published - (r.stored - r.duplicates)
        print(f"{r.fault:<24} {r.published:>9} {r.stored:>7} {missing:>7} {r.duplicates:>6}  "
              f"{r.alarm:<20} {'yes' if r.raised else 'NO':<6} {after:>7} {cleared:<7}")


if __name__ == "__main__":
    main()
