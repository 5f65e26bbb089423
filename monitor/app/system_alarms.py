"""Technical alarms of the monitor itself (not of a bed): no broker, no store, a crash.

They stand on the board under the pseudo-bed ``system/monitor`` and follow
the same path as every other alarm: board, pager, audit log. A condition
alarm clears when its condition ends; an event alarm (the monitor was
down) stays until someone acknowledges it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from typing import Any, Final

from monitor.app.beds import AlarmFanout
from monitor.app.counters import now_ms
from monitor.app.writer import BatchWriter
from monitor.domain.alarms import Alarm, AlarmEvent, new_alarm_id
from monitor.domain.limits import Priority
from monitor.domain.readings import BedRef

SYSTEM_BED: Final = BedRef("system", "monitor")


class SystemAlarms:
    """The monitor's own technical alarms."""

    def __init__(self, alarms: AlarmFanout, writer: BatchWriter) -> None:
        self._alarms = alarms
        self._writer = writer
        self.open: dict[str, Alarm] = {}
        """Standing alarms: a condition's by its code, an event's by its id (several may stand)."""
        self._recording: set[asyncio.Task[None]] = set()
        writer.on_trouble = self.storage_failed

    async def _emit(self, events: list[AlarmEvent]) -> None:
        self._alarms.publish(events)  # the board and the pager hear of it now
        await self._writer.record(events)

    async def set(self, code: str, priority: Priority, present: bool, detail: str | None) -> None:
        """Raise or clear the condition alarm ``code``."""
        now = now_ms()
        alarm = self.open.get(code)
        if present and alarm is None:
            alarm = Alarm(id=new_alarm_id(), bed=SYSTEM_BED, session_id=None, kind="technical",
                          code=code, vital=None, priority=priority, state="active", value=None,
                          limit=None, raised_ms=now, updated_ms=now)
            self.open[code] = alarm
            await self._emit([AlarmEvent("raised", alarm, detail=detail)])
        elif not present and alarm is not None and not alarm.condition_present:
            return
        elif not present and alarm is not None:
            del self.open[code]
            cleared = replace(alarm, state="cleared", updated_ms=now)
            await self._emit([AlarmEvent("cleared", cleared, detail=detail)])

    async def event(self, code: str, priority: Priority, detail: str) -> None:
        """Raise an event alarm: it stands until acknowledged."""
        now = now_ms()
        alarm = Alarm(id=new_alarm_id(), bed=SYSTEM_BED, session_id=None, kind="technical",
                      code=code, vital=None, priority=priority, state="active", value=None,
                      limit=None, raised_ms=now, updated_ms=now, condition_present=False)
        self.open[alarm.id] = alarm
        await self._emit([AlarmEvent("raised", alarm, detail=detail)])

    async def restore(self, stored: Sequence[Alarm]) -> None:
        """The system alarms that stood when the monitor last stopped.

        An event (``monitor_restarted``, ``monitor_failover``, ``task_failed``, ...) stands again
        until acknowledged: shown, not paged again. A condition alarm is
        cleared: this run judges its condition afresh, and raises it again
        if it still holds.
        """
        now = now_ms()
        for alarm in stored:
            if not alarm.condition_present:
                self.open[alarm.id] = alarm
        self._alarms.show([AlarmEvent("raised", a) for a in stored if not a.condition_present])
        await self._emit([
            AlarmEvent("cleared", replace(a, state="cleared", updated_ms=now),
                       detail="the monitor restarted: its condition is judged afresh")
            for a in stored if a.condition_present])

    async def acknowledge(self, alarm_id: str, user: str) -> Alarm | None:
        """``user`` acknowledges a system alarm; None if no open one has that id."""
        for code, alarm in self.open.items():
            if alarm.id != alarm_id:
                continue
            if alarm.state == "acknowledged":
                return alarm
            now = now_ms()
            acknowledged = replace(alarm, state="acknowledged", acknowledged_by=user,
                                   acknowledged_ms=now, updated_ms=now)
            events = [AlarmEvent("acknowledged", acknowledged, user)]
            if alarm.condition_present:
                self.open[code] = acknowledged
            else:
                del self.open[code]
                acknowledged = replace(acknowledged, state="cleared")
                events.append(AlarmEvent("cleared", acknowledged, user))
            await self._emit(events)
            return acknowledged
        return None

    async def watch_broker(self, connected: asyncio.Event, after_s: float,
                           every_s: float = 0.5) -> None:
        """Raise ``broker_offline`` (high) once the broker has been gone ``after_s``, forever."""
        down_since: float | None = None
        while True:
            await asyncio.sleep(every_s)
            if connected.is_set():
                down_since = None
                await self.set("broker_offline", "high", False, "connected again")
                continue
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since >= after_s:
                await self.set("broker_offline", "high", True,
                               f"no connection to the MQTT broker for {after_s:g} s or more: "
                               "no reading reaches the monitor")

    def storage_failed(self, problem: str | None) -> None:
        """Commits fail (``problem``), or work again (None): ``storage_failed``, high."""
        self._soon(self.set("storage_failed", "high", problem is not None,
                            problem or "storing works"), "storage-failed")

    def broker_event(self, code: str, detail: str) -> None:
        """Raise a broker's event as a high alarm that stands until acknowledged.

        That is ``broker_session_lost`` (the broker lost the monitor's session)
        or ``mqtt_taken_over`` (it gave the session to another client).
        """
        self._soon(self.event(code, "high", detail), code)

    def _soon(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def store_outage(self, problem: str | None) -> None:
        """The vitals store stopped taking readings (``problem``), or took them again (None)."""
        await self.set("store_outage", "medium", problem is not None, problem)
