"""Committing results together, and only then acknowledging their messages.

:class:`BatchWriter` commits whatever has queued in one transaction and then
acknowledges those messages to the broker, in the order they came; after a
commit that was not full it gathers for ``COMMIT_SPACING_S`` before the next. Alarm
events from elsewhere (nurses' actions, the clock, the pager) go through the
same writer, so the stored alarm is always the latest.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from monitor.app.counters import Counters
from monitor.app.ports import AckToken, Batch, DeadLetter, RecordStore, StoredReading
from monitor.domain.alarms import AlarmEvent

log = logging.getLogger(__name__)

COMMIT_RETRY_START_S: Final = 0.1
COMMIT_SPACING_S: Final = 0.050
"""After a commit that was not full, what comes in this long is gathered for the next one.

Each commit is a synchronous write to disk: at 1,000 readings/s spread
evenly, committing each as it came took about a third of the monitor's CPU,
and commits 10 ms apart still 4 points more of a core than 50 ms apart.
The board and the pager hear of a reading before its commit, so only the
broker's acknowledgement (and a nurse's action's answer) waits this long more.
"""
COMMIT_RETRY_MAX_S: Final = 5.0


@dataclass(slots=True)
class Pending:
    """What one message (or one action) leaves to be committed."""

    token: AckToken | None = None
    reading: StoredReading | None = None
    events: Sequence[AlarmEvent] = ()
    dead_letter: DeadLetter | None = None
    committed: asyncio.Future[None] | None = field(default=None)


class BatchWriter:
    """Commits queued results together, then acknowledges their messages.

    With ``to_outbox`` (InfluxDB as the vitals store) readings are committed
    to the outbox as line protocol, and ``on_commit`` (if set) wakes its
    shipper.
    """

    def __init__(
        self,
        store: RecordStore,
        ack: Callable[[list[AckToken]], None],
        counters: Counters,
        *,
        batch_size: int,
        queue_size: int,
        to_outbox: Callable[[StoredReading], str | None] | None = None,
    ) -> None:
        self._store = store
        self._ack = ack
        self._counters = counters
        self._batch_size = batch_size
        self._queue: asyncio.Queue[Pending] = asyncio.Queue(maxsize=queue_size)
        self._to_outbox = to_outbox
        self.on_commit: Callable[[], None] | None = None
        self.on_trouble: Callable[[str | None], None] | None = None
        """Told the problem when commits start failing, and None when one succeeds again."""
        self.failing: str | None = None
        """Why commits fail, while they do (nothing is acknowledged meanwhile)."""
        self._recording: set[asyncio.Task[None]] = set()
        self._failing_now = asyncio.Event()

    @property
    def depth(self) -> int:
        """Results waiting to be committed."""
        return self._queue.qsize()

    async def submit(self, pending: Pending) -> None:
        """Queue a result; waits while the queue is full (backpressure)."""
        await self._queue.put(pending)

    async def commit(self, events: Sequence[AlarmEvent]) -> None:
        """Queue alarm events and wait until they are committed."""
        if not events:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(Pending(events=events, committed=done))
        await done

    async def record(self, events: Sequence[AlarmEvent], *, wait: bool = True) -> None:
        """Queue alarm events to be stored; with ``wait``, until committed (while storing works).

        While commits fail, waiting would hold the caller (the alarm clock, a
        nurse's acknowledgement, start-up) until the disk has space: the wait
        ends as soon as commits are found failing, also for a caller already
        waiting, and the events stay queued in order, stored once it works again.
        """
        if not events:
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(self.commit(events), name="record-alarms")
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)
        if wait and self.failing is None:
            failing = loop.create_task(self._failing_now.wait(), name="record-failing")
            try:
                await asyncio.wait({task, failing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                failing.cancel()

    async def join(self) -> None:
        """Wait until everything submitted is committed and acknowledged."""
        await self._queue.join()

    async def run(self) -> None:
        """Commit and acknowledge, forever."""
        while True:
            items = [await self._queue.get()]
            while len(items) < self._batch_size and not self._queue.empty():
                items.append(self._queue.get_nowait())
            batch = Batch()
            for item in items:
                if item.reading is not None and self._to_outbox is not None:
                    line = self._to_outbox(item.reading)
                    if line is not None:
                        batch.outbox.append(line)
                elif item.reading is not None:
                    batch.readings.append(item.reading)
                batch.alarm_events.extend(item.events)
                if item.dead_letter is not None:
                    batch.dead_letters.append(item.dead_letter)
            await self._commit(batch)
            if batch.outbox and self.on_commit is not None:
                self.on_commit()
            self._ack([item.token for item in items if item.token is not None])
            for item in items:
                if item.committed is not None and not item.committed.done():
                    item.committed.set_result(None)
                self._queue.task_done()
            if len(items) < self._batch_size:
                await asyncio.sleep(COMMIT_SPACING_S)

    async def _commit(self, batch: Batch) -> None:
        """Commit, retrying with backoff for as long as it takes; never gives up or raises.

        Until it succeeds nothing more is acknowledged, so the broker keeps
        every reading not yet committed.
        """
        delay = COMMIT_RETRY_START_S
        while True:
            try:
                self._counters.stored += await self._store.write(batch)
            except (sqlite3.Error, OSError) as error:
                self._counters.commit_failures += 1
                log.error("storing %d records failed (%s); retrying in %.1f s",
                          len(batch), error, delay)
                self._trouble(f"storing failed: {error}; nothing is acknowledged until it "
                              "works again, so the broker keeps the readings")
                await asyncio.sleep(delay)
                delay = min(delay * 2, COMMIT_RETRY_MAX_S)
            else:
                self._counters.commits += 1
                self._counters.dead_letters_pruned = self._store.dead_letters_pruned
                self._trouble(None)
                return

    def _trouble(self, problem: str | None) -> None:
        if (problem is None) == (self.failing is None):
            return
        self.failing = problem
        if problem is None:
            self._failing_now.clear()
        else:
            self._failing_now.set()
        if self.on_trouble is not None:
            self.on_trouble(problem)
