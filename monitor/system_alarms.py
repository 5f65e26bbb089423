"""Technical alarms of the monitor itself (not of a bed): the store is down, say.

They stand on the board under the pseudo-bed ``system/monitor`` and follow
the same path as every other alarm: board, pager, audit log.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from monitor.domain.alarms import Alarm, AlarmEvent, new_alarm_id
from monitor.domain.limits import Priority
from monitor.domain.readings import BedRef
from monitor.pipeline import AlarmFanout, BatchWriter, now_ms

SYSTEM_BED: Final = BedRef("system", "monitor")


class SystemAlarms:
    """The monitor's own technical alarms."""

    def __init__(self, alarms: AlarmFanout, writer: BatchWriter) -> None:
        self._alarms = alarms
        self._writer = writer
        self.open: dict[str, Alarm] = {}

    async def _emit(self, events: list[AlarmEvent]) -> None:
        self._alarms.publish(events)
        await self._writer.commit(events)

    async def set(self, code: str, priority: Priority, present: bool, detail: str | None) -> None:
        """Raise or clear the alarm ``code``."""
        now = now_ms()
        alarm = self.open.get(code)
        if present and alarm is None:
            alarm = Alarm(id=new_alarm_id(), bed=SYSTEM_BED, session_id=None, kind="technical",
                          code=code, vital=None, priority=priority, state="active", value=None,
                          limit=None, raised_ms=now, updated_ms=now)
            self.open[code] = alarm
            await self._emit([AlarmEvent("raised", alarm, detail=detail)])
        elif not present and alarm is not None:
            del self.open[code]
            cleared = replace(alarm, state="cleared", updated_ms=now)
            await self._emit([AlarmEvent("cleared", cleared, detail=detail)])

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
            self.open[code] = acknowledged
            await self._emit([AlarmEvent("acknowledged", acknowledged, user)])
            return acknowledged
        return None

    async def store_outage(self, problem: str | None) -> None:
        """The vitals store stopped taking readings (``problem``), or took them again (None)."""
        await self.set("store_outage", "medium", problem is not None, problem)
