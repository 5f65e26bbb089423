"""The ingest path: inbox -> validate -> de-duplicate -> alarms -> board -> store -> ack.

:class:`Processor` does the CPU work of one message at a time and hands the
result to :class:`BatchWriter`, which commits whatever has queued in one
transaction and only then acknowledges those messages to the broker, in the
order they came.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

from monitor.adapters.mqtt import AckToken, Inbound
from monitor.adapters.sqlite import Batch, DeadLetter, SqliteStore, StoredReading
from monitor.domain.alarms import AlarmEvent, BedAlarms, evaluate
from monitor.domain.board import (
    Board,
    Message,
    alarm_message,
    device_message,
    reading_message,
)
from monitor.domain.limits import Profile
from monitor.domain.readings import (
    BedRef,
    InvalidPayload,
    Reading,
    parse_reading,
    parse_status,
    parse_topic,
)
from monitor.domain.sequence import SequenceTracker
from monitor.domain.sessions import Session

log = logging.getLogger(__name__)

COMMIT_RETRY_START_S: Final = 0.1
COMMIT_RETRY_MAX_S: Final = 5.0


class EventSink(Protocol):
    """Where board messages go (the WebSocket hub; later the MQTT alerts topic)."""

    def publish(self, message: Message) -> None:
        """Send one message; must not block."""


@dataclass(slots=True)
class Counters:
    """What the ingest path has seen since start-up."""

    received: int = 0
    accepted: int = 0
    invalid: int = 0
    duplicates: int = 0
    seq_gaps: int = 0
    stored: int = 0
    commits: int = 0
    commit_failures: int = 0
    alarm_events: int = 0
    internal_errors: int = 0


@dataclass(slots=True)
class _Pending:
    token: AckToken
    reading: StoredReading | None = None
    events: list[AlarmEvent] = field(default_factory=list)
    dead_letter: DeadLetter | None = None


class OpenSessions:
    """The open session of each bed, and the alarm engine's state of each bed."""

    def __init__(self, sessions: Iterable[Session] = ()) -> None:
        self._by_bed: dict[BedRef, Session] = {s.bed: s for s in sessions if s.is_open}
        self.alarms: dict[BedRef, BedAlarms] = {}

    def get(self, bed: BedRef) -> Session | None:
        """The bed's open session, if any."""
        return self._by_bed.get(bed)

    def put(self, session: Session) -> None:
        """Record a new or changed session."""
        if session.is_open:
            self._by_bed[session.bed] = session
        elif self._by_bed.get(session.bed, session).id == session.id:
            self._by_bed.pop(session.bed, None)


class BatchWriter:
    """Commits queued results together, then acknowledges their messages."""

    def __init__(
        self,
        store: SqliteStore,
        ack: Callable[[AckToken], None],
        counters: Counters,
        *,
        batch_size: int,
        queue_size: int,
    ) -> None:
        self._store = store
        self._ack = ack
        self._counters = counters
        self._batch_size = batch_size
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=queue_size)

    @property
    def depth(self) -> int:
        """Results waiting to be committed."""
        return self._queue.qsize()

    async def submit(self, pending: _Pending) -> None:
        """Queue a message's result; waits while the queue is full (backpressure)."""
        await self._queue.put(pending)

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
                if item.reading is not None:
                    batch.readings.append(item.reading)
                batch.alarm_events.extend(item.events)
                if item.dead_letter is not None:
                    batch.dead_letters.append(item.dead_letter)
            await self._commit(batch)
            for item in items:
                self._ack(item.token)
                self._queue.task_done()

    async def _commit(self, batch: Batch) -> None:
        delay = COMMIT_RETRY_START_S
        while True:
            try:
                self._counters.stored += await self._store.write(batch)
            except sqlite3.Error as error:
                self._counters.commit_failures += 1
                log.error("storing %d records failed (%s); retrying in %.1f s",
                          len(batch), error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, COMMIT_RETRY_MAX_S)
            else:
                self._counters.commits += 1
                return


class Processor:
    """Turns each inbound message into board updates, alarm events and a stored row."""

    def __init__(
        self,
        *,
        inbox: asyncio.Queue[Inbound],
        writer: BatchWriter,
        sink: EventSink,
        board: Board,
        sessions: OpenSessions,
        profiles: dict[str, Profile],
        counters: Counters,
        tracker: SequenceTracker,
    ) -> None:
        self._inbox = inbox
        self._writer = writer
        self._sink = sink
        self._board = board
        self._sessions = sessions
        self._profiles = profiles
        self._counters = counters
        self._tracker = tracker

    async def run(self) -> None:
        """Process the inbox, forever."""
        while True:
            message = await self._inbox.get()
            try:
                await self._writer.submit(self.handle(message))
            finally:
                self._inbox.task_done()

    def handle(self, message: Inbound) -> _Pending:
        """Process one message; what it yields is to be stored, then acknowledged."""
        self._counters.received += 1
        pending = _Pending(message.ack)
        try:
            bed, kind = parse_topic(message.topic)
            if kind == "status":
                status = parse_status(bed, message.payload)
                self._board.on_device(status)
                self._sink.publish(device_message(status, message.received_ms))
            else:
                self._accept(parse_reading(bed, message.payload), message.received_ms, pending)
        except InvalidPayload as error:
            self._counters.invalid += 1
            log.warning("dead letter from %s: %s", message.topic[:200], error)
            pending.dead_letter = DeadLetter(
                message.received_ms, message.topic, message.payload, str(error)
            )
        except Exception as error:  # a defect must not stop the monitoring of every other bed
            self._counters.internal_errors += 1
            log.exception("processing a message from %s failed", message.topic[:200])
            pending.dead_letter = DeadLetter(
                message.received_ms, message.topic, message.payload,
                f"internal error while processing: {error!r}"[:500],
            )
        return pending

    def _accept(self, reading: Reading, received_ms: int, pending: _Pending) -> None:
        verdict = self._tracker.observe(reading.device_id, reading.seq, reading.ts_ms)
        if verdict.duplicate:
            self._counters.duplicates += 1
            return
        self._counters.accepted += 1
        self._counters.seq_gaps += verdict.missing
        session = self._sessions.get(reading.bed)
        session_id = session.id if session else None
        pending.reading = StoredReading(reading, session_id, received_ms)
        self._board.on_reading(reading, received_ms)
        self._sink.publish(reading_message(reading, session_id, received_ms))
        if session is None:
            return
        state = self._sessions.alarms.get(reading.bed, BedAlarms())
        state, events = evaluate(self._profiles[session.profile], state, reading, session_id)
        self._sessions.alarms[reading.bed] = state
        for event in events:
            self._counters.alarm_events += 1
            self._board.on_alarm(event)
            self._sink.publish(alarm_message(event.alarm, event.transition))
        pending.events = events


def now_ms() -> int:
    """Wall-clock Unix milliseconds."""
    return time.time_ns() // 1_000_000
