"""The writer: commits gathered, and waiting for one never outlasts the store's working."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import cast

from monitor.app.counters import Counters
from monitor.app.ports import AckToken, Batch, RecordStore
from monitor.app.system_alarms import SYSTEM_BED
from monitor.app.writer import COMMIT_SPACING_S, BatchWriter, Pending
from monitor.domain.alarms import Alarm, AlarmEvent


class FullDisk:
    """A record store whose every commit fails until ``space`` is set (a unit-test stand-in)."""

    def __init__(self) -> None:
        self.space = False
        self.stored: list[AlarmEvent] = []
        self.dead_letters_pruned = 0

    async def write(self, batch: Batch) -> int:
        if not self.space:
            raise sqlite3.OperationalError("database or disk is full")
        self.stored += batch.alarm_events
        return 0


def restarted() -> AlarmEvent:
    alarm = Alarm(id="a1", bed=SYSTEM_BED, session_id=None, kind="technical",
                  code="monitor_restarted", vital=None, priority="medium", state="active",
                  value=None, limit=None, raised_ms=0, updated_ms=0, condition_present=False)
    return AlarmEvent("raised", alarm)


@contextlib.asynccontextmanager
async def running(writer: BatchWriter) -> AsyncIterator[None]:
    """The writer's loop runs inside; on leaving, it commits what it holds, then stops."""
    loop = asyncio.create_task(writer.run())
    try:
        yield
        async with asyncio.timeout(5):
            await writer.join()
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop


def test_a_caller_waiting_for_a_commit_is_let_go_once_commits_fail_and_nothing_is_lost() -> None:
    disk = FullDisk()
    writer = BatchWriter(cast(RecordStore, disk), lambda tokens: None, Counters(),
                         batch_size=10, queue_size=10)

    async def start_up_on_a_full_disk() -> None:
        async with running(writer):
            async with asyncio.timeout(2):  # before: waited for space, however long that took
                await writer.record([restarted()])
            assert writer.failing is not None
            assert disk.stored == []
            disk.space = True

    asyncio.run(start_up_on_a_full_disk())
    assert [event.alarm.code for event in disk.stored] == ["monitor_restarted"]


class Disk:
    """A record store that keeps the size of each commit (a unit-test stand-in)."""

    def __init__(self) -> None:
        self.commits: list[int] = []
        self.dead_letters_pruned = 0

    async def write(self, batch: Batch) -> int:
        self.commits.append(len(batch.alarm_events))
        return len(batch.alarm_events)


def test_what_comes_in_soon_after_a_commit_is_gathered_into_the_next_one() -> None:
    disk = Disk()
    acked: list[AckToken] = []
    writer = BatchWriter(cast(RecordStore, disk), acked.extend, Counters(),
                         batch_size=100, queue_size=100)

    async def readings_within_the_spacing() -> None:
        async with running(writer):
            for mid in range(6):  # spread over about half the spacing
                await writer.submit(Pending(AckToken(1, mid, 1), events=[restarted()]))
                await asyncio.sleep(COMMIT_SPACING_S / 12)

    asyncio.run(readings_within_the_spacing())
    # the first goes at once; before, each of the others was committed alone as it came
    assert disk.commits == [1, 5]
    assert [token.mid for token in acked] == [0, 1, 2, 3, 4, 5]
