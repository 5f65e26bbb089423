"""The ingest path: inbox -> validate -> de-duplicate -> alarms -> board -> store -> ack.

:class:`Processor` does the CPU work of one message at a time and hands the
result to the :class:`~monitor.app.writer.BatchWriter`, which commits and
then acknowledges.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Final

from monitor.app.beds import AlarmFanout, OpenSessions
from monitor.app.board import Board
from monitor.app.counters import Counters
from monitor.app.ports import DeadLetter, Inbound, StoredReading
from monitor.app.writer import BatchWriter, Pending
from monitor.domain.alarms import AlarmEvent
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

YIELD_EVERY: Final = 32


def source_key(bed: BedRef, device_id: str) -> str:
    """What readings are de-duplicated by: the bed and the device (``site/bed/device``).

    A device id alone is not an identity: any account can write any id into
    a payload, and must not make another bed's readings look like repeats.
    """
    return f"{bed.key}/{device_id}"


class Processor:
    """Turns each inbound message into board updates, alarm events and a stored row."""

    def __init__(
        self,
        *,
        inbox: asyncio.Queue[Inbound],
        writer: BatchWriter,
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
                self._board.on_device(status, message.received_ms)
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
        self._board.on_reading(reading, session_id, received_ms)
        if engine is None:
            self._sessions.hold(pending.reading)
        else:
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
