"""The alarm clock: every bed ticked once per interval, spread evenly over it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import ClassVar, cast

from monitor.api.hub import BoardHub
from monitor.app.alarm_actions import TICK_SLOTS, TICK_YIELD_EVERY, AlarmActions
from monitor.app.beds import AlarmFanout, OpenSessions
from monitor.app.board import Board
from monitor.app.counters import Counters
from monitor.app.system_alarms import SystemAlarms
from monitor.app.writer import BatchWriter
from monitor.domain.alarms import AlarmEvent
from monitor.domain.engine import BedEngine
from monitor.domain.readings import BedRef
from monitor.domain.sessions import Session
from tests.unit.domain.engine_harness import default_profile


class Writer:
    """Takes alarm events as the store would (a unit-test stand-in)."""

    def __init__(self) -> None:
        self.events: list[AlarmEvent] = []
        self.on_trouble = None

    async def record(self, events: list[AlarmEvent], *, wait: bool = True) -> None:
        self.events += events


class CountingEngine(BedEngine):
    ticks: ClassVar[Counter[str]] = Counter()
    times: ClassVar[list[float]] = []

    def tick(self, now_ms: int) -> list[AlarmEvent]:
        CountingEngine.ticks[self.session.id] += 1
        CountingEngine.times.append(time.monotonic())
        return super().tick(now_ms)


def clock(beds: int) -> tuple[AlarmActions, OpenSessions]:
    CountingEngine.ticks.clear()
    CountingEngine.times.clear()
    profile = default_profile()
    now = int(time.time() * 1000)
    engines = [CountingEngine(Session(f"s{n}", BedRef("site", f"bed-{n}"), f"p{n}", "infusion",
                                      {"infusion": now}, profile.name), profile, now_ms=now)
               for n in range(beds)]
    board, writer = Board(BoardHub(10)), cast(BatchWriter, Writer())
    fanout = AlarmFanout(board)
    sessions = OpenSessions(engines, slots=TICK_SLOTS)
    return AlarmActions(sessions, fanout, writer, board, system=SystemAlarms(fanout, writer),
                        counters=Counters()), sessions


def test_the_slots_of_a_tick_take_every_bed_exactly_once() -> None:
    actions, _ = clock(200)

    async def all_slots() -> None:
        for slot in range(TICK_SLOTS):
            await actions.tick(slot)

    asyncio.run(all_slots())
    assert len(CountingEngine.ticks) == 200
    assert set(CountingEngine.ticks.values()) == {1}


def test_the_clock_spreads_one_interval_of_ticks_over_the_whole_interval() -> None:
    actions, _ = clock(200)
    interval_s = 0.5

    async def one_interval() -> None:
        task = asyncio.create_task(actions.run_clock(interval_s))
        await asyncio.sleep(interval_s * 0.98)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(one_interval())
    assert set(CountingEngine.ticks.values()) <= {1}
    assert len(CountingEngine.ticks) > 150  # the last slot may fall just after the window
    times = CountingEngine.times
    assert max(times) - min(times) > interval_s * 0.7  # spread, not one burst


def test_a_slot_gives_readings_a_turn_and_skips_a_session_ended_meanwhile() -> None:
    beds = TICK_SLOTS * TICK_YIELD_EVERY * 3
    actions, sessions = clock(beds)
    slot = max(range(TICK_SLOTS), key=lambda s: len(sessions.in_slot(s)))
    in_slot = sessions.in_slot(slot)
    last = in_slot[-1]
    turns = 0

    async def reading_arrives() -> None:
        nonlocal turns
        turns += 1
        sessions.close(last.session.bed)  # ends while the slot is being ticked

    async def run() -> None:
        arrival = asyncio.get_running_loop().create_task(reading_arrives())
        await actions.tick(slot)
        await arrival

    asyncio.run(run())
    assert turns == 1
    ticked = {session for session, n in CountingEngine.ticks.items() if n}
    assert ticked == {engine.session.id for engine in in_slot[:-1]}
    assert sum(len(sessions.in_slot(s)) for s in range(TICK_SLOTS)) == beds - 1
