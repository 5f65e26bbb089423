"""What nurses do to alarms (acknowledge, pause), and the clock's part in alarms."""

from __future__ import annotations

import asyncio
from typing import Final

from monitor.app.beds import AlarmFanout, OpenSessions
from monitor.app.board import Board
from monitor.app.counters import Counters, now_ms
from monitor.app.pager import Delivery
from monitor.app.system_alarms import SystemAlarms
from monitor.app.writer import BatchWriter
from monitor.domain.alarm_ledger import UnknownAlarmError
from monitor.domain.alarms import Alarm, AlarmEvent, Transition

TICK_S: Final = 1.0
TICK_SLOTS: Final = 50
"""A tick's beds are spread over this many even steps of the interval: a tick over
thousands of beds at once would hold up the readings arriving meanwhile."""
TICK_YIELD_EVERY: Final = 16
"""Within a step, readings get a turn after this many beds (about half a millisecond)."""


class AlarmActions:
    """Acknowledge and pause, the clock's ticks, and page outcomes, all through one path."""

    def __init__(
        self,
        open_sessions: OpenSessions,
        alarms: AlarmFanout,
        writer: BatchWriter,
        board: Board,
        *,
        system: SystemAlarms,
        counters: Counters,
    ) -> None:
        self._open = open_sessions
        self._system = system
        self._counters = counters
        self._alarms = alarms
        self._writer = writer
        self._board = board

    async def _emit(self, events: list[AlarmEvent], *, wait: bool = True) -> None:
        self._alarms.publish(events)  # the board and the pager hear of it now
        await self._writer.record(events, wait=wait)

    async def acknowledge(self, alarm_id: str, user: str) -> Alarm:
        """``user`` acknowledges an open alarm; returns it as it now stands.

        Raises:
            UnknownAlarmError: No open alarm has that id.
        """
        try:
            engine = self._open.holding(alarm_id)
        except UnknownAlarmError:
            system = await self._system.acknowledge(alarm_id, user)
            if system is None:
                raise
            return system
        events = engine.acknowledge(alarm_id, user, now_ms())
        await self._emit(events)
        return events[-1].alarm if events else engine.find(alarm_id)

    async def pause(self, alarm_id: str, user: str, seconds: float) -> Alarm:
        """Pause the alarm's bed up to its priority for ``seconds``.

        Raises:
            UnknownAlarmError: No open alarm has that id.
            PauseError: Longer than the bed's profile allows.
        """
        engine = self._open.holding(alarm_id)
        await self._emit(engine.pause(alarm_id, user, now_ms(), seconds))
        return engine.find(alarm_id)

    async def tick(self, slot: int = 0) -> None:
        """Let time pass for the beds in ``slot`` (see :meth:`OpenSessions.in_slot`).

        Silence, pauses, reminders and discharge readiness. Readings get a
        turn every ``TICK_YIELD_EVERY`` beds; a bed whose session ends
        meanwhile is left alone.
        """
        now = now_ms()
        for n, engine in enumerate(self._open.in_slot(slot), start=1):
            if self._open.engine(engine.session.bed) is not engine:
                continue
            # the clock never waits for the store: silence must be raised while it fails
            await self._emit(engine.tick(now), wait=False)
            self._board.on_status(engine.session, engine.board_status(now))
            if n % TICK_YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def run_clock(self, interval_s: float = TICK_S) -> None:
        """Tick forever: every bed once per ``interval_s``, its slots in even steps."""
        loop = asyncio.get_running_loop()
        slots = self._open.slots
        step_s = interval_s / slots
        due = loop.time()
        while True:
            for slot in range(slots):
                due += step_s
                await asyncio.sleep(max(0.0, due - loop.time()))
                await self.tick(slot)

    async def record_pages(self, outcomes: asyncio.Queue[Delivery]) -> None:
        """Record each page's outcome as it comes, forever."""
        while True:
            delivery = await outcomes.get()
            try:
                await self.page_outcome(delivery)
            finally:
                outcomes.task_done()

    async def page_outcome(self, delivery: Delivery) -> None:
        """Record a page in the audit log; a failed one raises a technical alarm on its bed."""
        now = now_ms()
        transition: Transition = "paged" if delivery.delivered else "page_failed"
        self._counters.pages_delivered += delivery.delivered
        self._counters.pages_failed += not delivery.delivered
        events = [AlarmEvent(transition, delivery.alarm, user=delivery.target,
                             detail=delivery.detail, at_ms=now)]
        engine = self._open.engine(delivery.alarm.bed)
        if engine is not None:
            events += engine.page_outcome(delivery.target, delivery.delivered, now,
                                          delivery.detail)
        await self._emit(events)
