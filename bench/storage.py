"""Vitals storage: write throughput, report time, and bytes per session-hour.

Both stores, real servers: SQLite (WAL, full fsync) and InfluxDB 1.x through
its v1 API. The readings are simulated one-hour sessions at 1 Hz.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from device_sim.device import ChairSpec, SimulatedMonitor
from device_sim.physiology import BASELINE_S
from monitor.adapters.influx import InfluxVitals
from monitor.adapters.sqlite import SqliteStore
from monitor.app.ports import Batch, StoredReading
from monitor.app.session_service import SessionBook
from monitor.domain.readings import BedRef, parse_reading
from monitor.domain.sessions import Session
from monitor.settings import Settings, read_profiles
from monitor.stores import build_reports, influx_store
from tests.servers import influxdb

HOUR_S = 3600
START_S = 1_790_000_000.0


def session_hour(index: int) -> tuple[Session, list[StoredReading]]:
    bed = BedRef("bench", f"bed-{index}")
    session = Session(f"s{index}", bed, f"p{index}", "observation",
                      {"baseline": 0, "infusion": int((START_S + BASELINE_S) * 1000),
                       "observation": int((START_S + 3000) * 1000)},
                      "ketamine-default", baseline={"sbp": 122.0, "dbp": 76.0})
    device = SimulatedMonitor(ChairSpec("bench", bed.bed, f"mon-{index}", index))
    readings = []
    for _ in range(HOUR_S):
        for emission in device.step(lambda: START_S + device.t_s):
            reading = parse_reading(bed, emission.payload)  # type: ignore[union-attr]
            readings.append(StoredReading(reading, session.id, 0))
    return session, readings


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def bench_sqlite(directory: Path, hours: list[tuple[Session, list[StoredReading]]]) -> None:
    store = SqliteStore(directory / "sqlite" / "monitor.db")
    await store.open()
    for session, _ in hours:
        await store.save_session(session)
    before = size(directory / "sqlite")
    started = time.perf_counter()
    for _, readings in hours:
        for i in range(0, len(readings), 500):
            await store.write(Batch(readings=readings[i:i + 500]))
    seconds = time.perf_counter() - started
    await store.call(lambda db: db.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    grown = size(directory / "sqlite") - before
    await report_time("sqlite", store, Settings(data_dir=directory / "sqlite"), hours[0][0],
                      rate=HOUR_S * len(hours) / seconds, bytes_per_hour=grown / len(hours))
    await store.close()


async def bench_influx(directory: Path, hours: list[tuple[Session, list[StoredReading]]]) -> None:
    (directory / "influx").mkdir()
    with influxdb(directory / "influx") as server:
        settings = Settings(data_dir=directory / "influx-meta", store="influx",
                            influx_url=server.url, influx_db="bench",
                            influx_username=server.user,
                            influx_password=SecretStr(server.password))
        influx = InfluxVitals(server.url, "bench", username=server.user, password=server.password)
        await influx.ensure_database()
        # InfluxDB preallocates its series file per database (tens of MiB whatever the
        # data), so the first hour is written apart and only the growth after it counts.
        for i in range(0, HOUR_S, 5000):
            await influx.write(hours[0][1][i:i + 5000])
        await asyncio.sleep(8)  # let InfluxDB snapshot its cache and compact to TSM
        before = size(server.directory)
        started = time.perf_counter()
        for _, readings in hours[1:]:
            for i in range(0, len(readings), 5000):
                await influx.write(readings[i:i + 5000])
        seconds = time.perf_counter() - started
        await asyncio.sleep(8)
        grown = size(server.directory) - before
        store = SqliteStore(directory / "influx-meta" / "monitor.db")
        await store.open()
        for session, _ in hours:
            await store.save_session(session)
        await report_time("influx", store, settings, hours[0][0],
                          rate=HOUR_S * (len(hours) - 1) / seconds,
                          bytes_per_hour=grown / (len(hours) - 1))
        await store.close()
        await influx.close()


async def report_time(name: str, store: SqliteStore, settings: Settings, session: Session, *,
                      rate: float, bytes_per_hour: float) -> None:
    influx = influx_store(settings)
    vitals = influx or store
    reports = build_reports(store, vitals, SessionBook(store, read_profiles(settings)))
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        report = await reports.build(session)
        timings.append(time.perf_counter() - started)
    assert report["readings"] == HOUR_S
    if influx is not None:
        await influx.close()
    print(f"{name:>7} {rate:>14,.0f} {min(timings) * 1000:>16.0f} {bytes_per_hour / 1024:>16,.0f}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=int, default=20, help="session-hours written")
    args = parser.parse_args()
    hours = [session_hour(index) for index in range(args.hours)]
    print(f"{args.hours} simulated session-hours at 1 Hz ({args.hours * HOUR_S:,} readings)")
    print(f"{'store':>7} {'readings/s':>14} {'report (ms)':>16} {'KiB/session-h':>16}")
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(bench_sqlite(Path(directory), hours))
        asyncio.run(bench_influx(Path(directory), hours))


if __name__ == "__main__":
    main()
