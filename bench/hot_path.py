"""CPU a reading costs in each step of the ingest's hot path, in one process, without I/O.

Each step runs over the same readings (one device, HR 72, SpO2 98, RR 14,
EtCO2 36, once a second) and prints microseconds of wall time per reading:
the topic and the payload checked, the seq de-duplicated, the alarm engine
judging a calm patient of the default profile during the infusion, and the
board's tile updated with the message serialised for one screen. The
end-to-end benchmarks (``bench.even_load``, ``bench.scale``) show what these
add up to with the broker, the store and the screens around them.
"""

from __future__ import annotations

import argparse
import time
import tomllib
from collections.abc import Callable

import orjson

from monitor.api.hub import BoardHub
from monitor.app.board import Board
from monitor.domain.engine import BedEngine
from monitor.domain.limits import load_profiles
from monitor.domain.readings import BedRef, Reading, parse_reading, parse_topic
from monitor.domain.sequence import SequenceTracker
from monitor.domain.sessions import Session
from monitor.settings import PROJECT_ROOT

TOPIC = "infusion/clinic/chair-1/vitals"
START_MS = 1_795_000_000_000


def payloads(count: int) -> list[bytes]:
    """``count`` readings of one device, a second apart."""
    return [orjson.dumps({
        "v": 1, "device_id": "dev-1", "seq": n,
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(START_MS / 1000 + n)) + ".000Z",
        "vitals": {"hr": 72, "spo2": 98, "rr": 14, "etco2": 36}}) for n in range(count)]


def per_reading_us(step: Callable[[], object], count: int) -> float:
    """Microseconds a reading that ``step`` (over ``count`` readings) took."""
    started = time.perf_counter()
    step()
    return (time.perf_counter() - started) * 1e6 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=100_000)
    args, _ = parser.parse_known_args()
    count = args.readings
    raw = payloads(count)
    bed = BedRef("clinic", "chair-1")
    readings: list[Reading] = [parse_reading(bed, payload) for payload in raw]
    path = PROJECT_ROOT / "config" / "thresholds.toml"
    profile = load_profiles(tomllib.loads(path.read_text()), str(path))["ketamine-default"]
    session = Session("s-1", bed, "p-1", "infusion", {"infusion": START_MS}, profile.name)
    engine = BedEngine(session, profile, now_ms=START_MS)
    tracker = SequenceTracker()
    hub = BoardHub(queue_size=count + 1)
    screen = hub.connect()
    screen.needs_snapshot = False
    board = Board(hub)

    def topics() -> None:
        for _ in range(count):
            parse_topic(TOPIC)

    def parse() -> None:
        for payload in raw:
            parse_reading(bed, payload)

    def sequence() -> None:
        for reading in readings:
            tracker.observe("clinic/chair-1/dev-1", reading.seq, reading.ts_ms)

    def judge() -> None:
        for reading in readings:
            if engine.on_reading(reading, reading.ts_ms):
                raise SystemExit(f"a calm reading raised an alarm: {reading}")

    def show() -> None:
        for reading in readings:
            board.on_reading(reading, session.id, reading.ts_ms)

    steps = {"topic": topics, "payload": parse, "seq": sequence, "alarm engine": judge,
             "board": show}
    print(f"{count:,} readings; microseconds a reading")
    for name, step in steps.items():
        print(f"{name:>14} {per_reading_us(step, count):7.2f}", flush=True)


if __name__ == "__main__":
    main()
