"""CPU a reading costs in each step of the ingest's hot path, in one process, without I/O.

Each step runs over the same readings (one device, HR 72, SpO2 98, RR 14,
EtCO2 36, once a second) and prints microseconds of wall time per reading:
the topic and the payload checked, the seq de-duplicated, the alarm engine
judging a calm patient of the default profile during the infusion, and the
board's tile updated with the message serialised for one screen. Then the
pager's cost an alarm event while ``--alarms`` alarms stand (as when
thousands of beds open their sessions at once): each alarm cleared and
raised again, its page delivered to a target that keeps nothing; and what
ending a session costs while that many are open, each holding a device. The
end-to-end benchmarks (``bench.even_load``, ``bench.scale``) show what these
add up to with the broker, the store and the screens around them.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tomllib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from monitor.api.hub import BoardHub
from monitor.app.beds import OpenSessions
from monitor.app.board import Board
from monitor.app.pager import Pager, Retry
from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.engine import BedEngine
from monitor.domain.limits import Profile, load_profiles
from monitor.domain.paging import PagingPolicy, Tier
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


class Nowhere:
    """A paging target that delivers every page at once and keeps none."""

    name = "nowhere"

    async def send(self, page: dict[str, Any]) -> None:
        """Take the page."""


async def pager_per_event_us(standing: int) -> float:
    """Microseconds the pager takes an event while ``standing`` alarms stand.

    Each alarm is cleared and raised again (two events), and its page delivered.
    """
    policy = PagingPolicy((Tier("nurses", frozenset({"low", "medium", "high"}), ("nowhere",),
                                None),))
    pager = Pager(policy, {"nowhere": (Nowhere(), Retry(attempts=1, backoff_s=0))})
    alarms = [Alarm(f"a-{n}", BedRef("clinic", f"chair-{n}"), f"s-{n}", "technical", "silent",
                    None, "medium", "active", None, None, START_MS, START_MS)
              for n in range(standing)]
    for alarm in alarms:
        pager.notify(AlarmEvent("raised", alarm))
    await asyncio.sleep(0)
    started = time.perf_counter()
    for alarm in alarms:
        pager.notify(AlarmEvent("cleared", replace(alarm, state="cleared")))
        pager.notify(AlarmEvent("raised", alarm))
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    await pager.close()
    return elapsed * 1e6 / (2 * standing)


def session_end_us(profile: Profile, sessions: int) -> float:
    """Microseconds ending a session takes (its devices freed) while ``sessions`` are open."""
    beds = [BedRef("clinic", f"chair-{n}") for n in range(sessions)]
    open_sessions = OpenSessions(
        BedEngine(Session(f"s-{n}", bed, f"p-{n}", "infusion", {"infusion": START_MS},
                          profile.name), profile, now_ms=START_MS)
        for n, bed in enumerate(beds))
    for n, bed in enumerate(beds):
        open_sessions.owner(f"dev-{n}", bed)
    started = time.perf_counter()
    for bed in beds:
        open_sessions.close(bed)
    return (time.perf_counter() - started) * 1e6 / sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=100_000)
    parser.add_argument("--alarms", type=int, nargs="+", default=[100, 4000])
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
    print("microseconds an alarm event")
    for standing in args.alarms:
        label = f"pager, {standing:,} standing"
        print(f"{label:>24} {asyncio.run(pager_per_event_us(standing)):7.2f}", flush=True)
    print("microseconds a session's end")
    for standing in args.alarms:
        label = f"{standing:,} open"
        print(f"{label:>24} {session_end_us(profile, standing):7.2f}", flush=True)


if __name__ == "__main__":
    main()
