"""The ingest path: inbox -> validate -> de-duplicate -> alarms -> board -> store -> ack.

:class:`Processor` does the CPU work of one message at a time and hands the
result to :class:`BatchWriter`, which commits whatever has queued in one
transaction and only then acknowledges those messages to the broker, in the
order they came. Alarm events from elsewhere (nurses' actions, the clock,
the pager) go through the same writer, so the stored alarm is always the
latest.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from monitor.adapters.mqtt import AckToken, Inbound
from monitor.adapters.sqlite import Batch, DeadLetter, SqliteStore, StoredReading
from monitor.domain.alarms import PAGE_RECORDS, AlarmEvent
from monitor.domain.board import (
    Board,
    Message,
    alarm_message,
    device_message,
    reading_message,
)
from monitor.domain.engine import BedEngine, UnknownAlarmError
from monitor.domain.readings import (
    BedRef,
    InvalidPayload,
    Reading,
    parse_reading,
    parse_status,
    parse_topic,
)
from monitor.domain.sequence import SequenceTracker

log = logging.getLogger(__name__)

COMMIT_RETRY_START_S: Final = 0.1
COMMIT_RETRY_MAX_S: Final = 5.0
YIELD_EVERY: Final = 32


class EventSink(Protocol):
    """Where board messages go (the WebSocket hub)."""

    def publish(self, message: Message) -> None:
        """Send one message; must not block."""


class AlarmListener(Protocol):
    """Something that acts on alarm transitions (the pager)."""

    def notify(self, event: AlarmEvent) -> None:
        """Take note of one transition; must not block."""


@dataclass(slots=True)
class Counters:
    """What the ingest path has seen since start-up."""

    received: int = 0
    accepted: int = 0
    invalid: int = 0
    duplicates: int = 0
    seq_gaps: int = 0
    late: int = 0
    device_conflicts: int = 0
    stored: int = 0
    commits: int = 0
    commit_failures: int = 0
    alarm_events: int = 0
    internal_errors: int = 0
    auth_failures: int = 0
    ws_stuck_closed: int = 0
    pages_delivered: int = 0
    pages_failed: int = 0
    task_failures: int = 0
    dead_letters_pruned: int = 0


@dataclass(slots=True)
class Pending:
    """What one message (or one action) leaves to be committed."""

    token: AckToken | None = None
    reading: StoredReading | None = None
    events: Sequence[AlarmEvent] = ()
    dead_letter: DeadLetter | None = None
    committed: asyncio.Future[None] | None = field(default=None)


def source_key(bed: BedRef, device_id: str) -> str:
    """What readings are de-duplicated by: the bed and the device (``site/bed/device``).

    A device id alone is not an identity: any account can write any id into
    a payload, and must not make another bed's readings look like repeats.
    """
    return f"{bed.key}/{device_id}"


class OpenSessions:
    """The alarm engine of each bed with an open session, and whose devices they hold.

    A device id belongs to the bed it first published from while that bed
    has an open session, until the session ends.
    """

    def __init__(self, engines: Iterable[BedEngine] = ()) -> None:
        self._by_bed: dict[BedRef, BedEngine] = {e.session.bed: e for e in engines}
        self._owners: dict[str, BedRef] = {}

    def owner(self, device_id: str, bed: BedRef) -> BedRef | None:
        """The bed holding ``device_id``; claimed for ``bed`` if free and ``bed`` has a session."""
        owner = self._owners.get(device_id)
        if owner is None and bed in self._by_bed:
            owner = self._owners[device_id] = bed
        return owner

    def engine(self, bed: BedRef) -> BedEngine | None:
        """The engine of the bed's open session, if any."""
        return self._by_bed.get(bed)

    def engines(self) -> list[BedEngine]:
        """Every open session's engine."""
        return list(self._by_bed.values())

    def open(self, engine: BedEngine) -> None:
        """A session opened at the engine's bed."""
        self._by_bed[engine.session.bed] = engine

    def close(self, bed: BedRef) -> None:
        """The bed's session ended: its devices are free to go elsewhere."""
        self._by_bed.pop(bed, None)
        self._owners = {device: owner for device, owner in self._owners.items() if owner != bed}

    def holding(self, alarm_id: str) -> BedEngine:
        """The engine holding an open alarm.

        Raises:
            UnknownAlarmError: No open alarm has that id.
        """
        for engine in self._by_bed.values():
            if any(alarm.id == alarm_id for alarm in engine.alarms.values()):
                return engine
        raise UnknownAlarmError(alarm_id)


class AlarmFanout:
    """Shows alarm events on the board, sends them to clients, and tells the pager."""

    def __init__(self, board: Board, sink: EventSink) -> None:
        self._board = board
        self._sink = sink
        self.listeners: list[AlarmListener] = []

    def publish(self, events: Iterable[AlarmEvent]) -> None:
        """Fan out each event, in order; page records stay in the audit log only."""
        for event in events:
            if event.transition in PAGE_RECORDS:
                continue
            self._board.on_alarm(event)
            self._sink.publish(alarm_message(event.alarm, event.transition))
            for listener in self.listeners:
                listener.notify(event)


class BatchWriter:
    """Commits queued results together, then acknowledges their messages.

    With ``to_outbox`` (InfluxDB as the vitals store) readings are committed
    to the outbox as line protocol, and ``on_commit`` (if set) wakes its
    shipper.
    """

    def __init__(
        self,
        store: SqliteStore,
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
        nurse's acknowledgement) until the disk has space: the events are queued
        in order and stored once it works again.
        """
        if not events:
            return
        if wait and self.failing is None:
            await self.commit(events)
            return
        task = asyncio.get_running_loop().create_task(self.commit(events), name="record-alarms")
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

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
        if self.on_trouble is not None:
            self.on_trouble(problem)


class Processor:
    """Turns each inbound message into board updates, alarm events and a stored row."""

    def __init__(
        self,
        *,
        inbox: asyncio.Queue[Inbound],
        writer: BatchWriter,
        sink: EventSink,
        board: Board,
        alarms: AlarmFanout,
        sessions: OpenSessions,
        counters: Counters,
        tracker: SequenceTracker,
        gap_alarm_readings: int = 10,
    ) -> None:
        self._gap_alarm_readings = gap_alarm_readings
        self._inbox = inbox
        self._writer = writer
        self._sink = sink
        self._board = board
        self._alarms = alarms
        self._sessions = sessions
        self._counters = counters
        self.tracker = tracker

    async def run(self) -> None:
        """Process the inbox, forever.

        A burst of messages is processed in runs of ``YIELD_EVERY``, giving
        the board senders a turn in between, so a burst cannot overflow the
        queue of a screen that keeps up.
        """
        inbox = self._inbox
        while True:
            for _ in range(YIELD_EVERY):
                message = await inbox.get()
                try:
                    await self._writer.submit(self.handle(message))
                finally:
                    inbox.task_done()
            await asyncio.sleep(0)

    def handle(self, message: Inbound) -> Pending:
        """Process one message; what it yields is to be stored, then acknowledged."""
        self._counters.received += 1
        pending = Pending(message.ack)
        try:
            bed, kind = parse_topic(message.topic)
            if kind == "status":
                status = parse_status(bed, message.payload)
                self._board.on_device(status)
                self._sink.publish(device_message(status, message.received_ms))
                engine = self._sessions.engine(bed)
                if engine is not None:
                    online = status.state == "online"
                    pending.events = engine.on_device_status(online, message.received_ms)
            else:
                self._accept(parse_reading(bed, message.payload), message, pending)
        except InvalidPayload as error:
            self._counters.invalid += 1
            log.warning("dead letter from %s: %s", message.topic[:200], error)
            pending.dead_letter = DeadLetter.of(
                message.received_ms, message.topic, message.payload, str(error)
            )
        except Exception as error:  # a defect must not stop the monitoring of every other bed
            self._counters.internal_errors += 1
            log.exception("processing a message from %s failed", message.topic[:200])
            pending.dead_letter = DeadLetter.of(
                message.received_ms, message.topic, message.payload,
                f"internal error while processing: {error!r}"[:500],
            )
        self._counters.alarm_events += len(pending.events)
        self._alarms.publish(pending.events)
        return pending

    def _accept(self, reading: Reading, message: Inbound, pending: Pending) -> None:
        received_ms = message.received_ms
        owner = self._sessions.owner(reading.device_id, reading.bed)
        if owner is not None and owner != reading.bed:
            self._conflict(reading, owner, message, pending)
            return
        verdict = self.tracker.observe(
            source_key(reading.bed, reading.device_id), reading.seq, reading.ts_ms)
        if verdict.duplicate:
            self._counters.duplicates += 1
            return
        self._counters.accepted += 1
        self._counters.seq_gaps += verdict.missing
        self._counters.late += verdict.late
        engine = self._sessions.engine(reading.bed)
        session_id = engine.session.id if engine else None
        pending.reading = StoredReading(reading, session_id, received_ms)
        self._board.on_reading(reading, received_ms)
        self._sink.publish(reading_message(reading, session_id, received_ms))
        if engine is not None:
            pending.events = engine.on_reading(reading, received_ms, late=verdict.late)
            if verdict.missing > self._gap_alarm_readings:
                span = (f"device {reading.device_id} skipped seq {reading.seq - verdict.missing}"
                        f"-{reading.seq - 1} ({verdict.missing} readings never arrived)")
                log.warning("data gap at %s: %s", reading.bed.key, span)
                pending.events = [*pending.events, *(
                    replace(event, detail=span)
                    for event in engine.data_gap(verdict.missing, received_ms))]

    def _conflict(
        self, reading: Reading, owner: BedRef, message: Inbound, pending: Pending
    ) -> None:
        """Refuse a reading naming another open session's device; ``device_conflict`` on both."""
        self._counters.invalid += 1
        self._counters.device_conflicts += 1
        reason = (f"device {reading.device_id} belongs to bed {owner.key} while its session "
                  f"is open; refused from bed {reading.bed.key}")
        log.warning("dead letter: %s", reason)
        pending.dead_letter = DeadLetter.of(message.received_ms, message.topic, message.payload,
                                            reason)
        events: list[AlarmEvent] = []
        for bed in (owner, reading.bed):
            engine = self._sessions.engine(bed)
            if engine is not None:
                events += [replace(event, detail=reason)
                           for event in engine.device_conflict(message.received_ms)]
        pending.events = events


def now_ms() -> int:
    """Wall-clock Unix milliseconds."""
    return time.time_ns() // 1_000_000
