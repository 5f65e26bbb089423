"""The alarms of one bed and what happens to them: latching, acknowledging, pausing, reminders.

:class:`AlarmLedger` keeps a bed's open alarms and applies the IEC 60601-1-8
conventions described in :mod:`monitor.domain.engine`, which decides when
a condition is present; this module decides what that does to the alarm
the nurses see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from monitor.domain.alarms import Alarm, AlarmEvent, AlarmKind, Transition, alarm_key, worse
from monitor.domain.limits import PRIORITY_RANK, Priority, Profile
from monitor.domain.sessions import Session


class UnknownAlarmError(KeyError):
    """No alarm of this bed has that id."""


class PauseError(ValueError):
    """A pause longer than the profile allows."""


class AlarmLedger:
    """A bed's open alarms, keyed by kind, code and vital."""

    def __init__(self, session: Session, profile: Profile, new_id: Callable[[], str]) -> None:
        self.session = session
        self.profile = profile
        self.alarms: dict[str, Alarm] = {}
        self._new_id = new_id
        self._reminders: dict[str, int] = {}
        self._pause_until_ms: int | None = None
        self._pause_ceiling: Priority = "low"
        self._present: dict[str, Priority] = {}

    def _pause_covers(self, priority: Priority, now_ms: int) -> bool:
        return (
            self._pause_until_ms is not None and now_ms < self._pause_until_ms
            and PRIORITY_RANK[priority] <= PRIORITY_RANK[self._pause_ceiling]
        )

    def _put(self, alarm: Alarm, transition: Transition, user: str | None = None) -> AlarmEvent:
        self.alarms[alarm.key] = alarm
        return AlarmEvent(transition, alarm, user)

    def _drop(self, alarm: Alarm, now_ms: int, user: str | None = None) -> AlarmEvent:
        del self.alarms[alarm.key]
        self._reminders.pop(alarm.id, None)
        return AlarmEvent("cleared", replace(alarm, state="cleared", updated_ms=now_ms), user)

    def _set(
        self,
        kind: AlarmKind,
        code: str,
        vital: str | None,
        priority: Priority | None,
        *,
        value: float | None,
        limit: float | None,
        now_ms: int,
    ) -> list[AlarmEvent]:
        """The condition ``kind/code/vital`` is present at ``priority`` (None: absent)."""
        if priority is None and not self.alarms:
            return []
        key = alarm_key(kind, code, vital)
        alarm = self.alarms.get(key)
        if priority is None:
            self._present.pop(key, None)
            if alarm is None or not alarm.condition_present:
                return []
            if alarm.priority == "high" and alarm.state in ("active", "paused"):
                ended = replace(alarm, condition_present=False, value=value, updated_ms=now_ms)
                return [self._put(ended, "condition_ended")]
            return [self._drop(replace(alarm, value=value), now_ms)]
        self._present[key] = priority
        if alarm is None:
            paused = priority != "high" and self._pause_covers(priority, now_ms)
            alarm = Alarm(
                id=self._new_id(), bed=self.session.bed, session_id=self.session.id, kind=kind,
                code=code, vital=vital, priority=priority,
                state="paused" if paused else "active", value=value, limit=limit,
                raised_ms=now_ms, updated_ms=now_ms,
                paused_until_ms=self._pause_until_ms if paused else None,
                onset_value=value, worst_value=value,
            )
            return [self._put(alarm, "raised")]
        events: list[AlarmEvent] = []
        if kind == "physiological" and alarm.worst_value != worse(code, alarm.worst_value, value):
            alarm = self.alarms[key] = replace(alarm, worst_value=worse(code, alarm.worst_value,
                                                                      value))
        if not alarm.condition_present:
            alarm = replace(alarm, condition_present=True, value=value, limit=limit,
                            updated_ms=now_ms)
            events.append(self._put(alarm, "condition_returned"))
        latched = alarm.priority == "high" and alarm.state in ("active", "paused")
        shown: Priority = "high" if latched else priority
        if shown != alarm.priority:
            state = alarm.state
            rises = PRIORITY_RANK[shown] > PRIORITY_RANK[alarm.priority]
            if rises and state != "active" and (
                    shown == "high" or not self._pause_covers(shown, now_ms)):
                state = "active"
                self._reminders.pop(alarm.id, None)
            alarm = replace(
                alarm, priority=shown, state=state, value=value, limit=limit,
                updated_ms=now_ms, paused_until_ms=alarm.paused_until_ms if state == "paused"
                else None,
            )
            events.append(self._put(alarm, "priority_changed"))
        return events

    # What nurses do

    def find(self, alarm_id: str) -> Alarm:
        """An open alarm of this bed by id.

        Raises:
            UnknownAlarmError: This bed has no open alarm with that id.
        """
        for alarm in self.alarms.values():
            if alarm.id == alarm_id:
                return alarm
        raise UnknownAlarmError(alarm_id)

    def acknowledge(self, alarm_id: str, user: str, now_ms: int) -> list[AlarmEvent]:
        """``user`` acknowledges an alarm; a latched one clears, others stay with reminders.

        Acknowledging an acknowledged alarm again changes nothing.

        Raises:
            UnknownAlarmError: This bed has no open alarm with that id.
        """
        alarm = self.find(alarm_id)
        if alarm.state == "acknowledged":
            return []
        acknowledged = replace(
            alarm, state="acknowledged", acknowledged_by=user, acknowledged_ms=now_ms,
            paused_until_ms=None, updated_ms=now_ms,
        )
        if not alarm.condition_present:
            self.alarms[alarm.key] = acknowledged
            return [AlarmEvent("acknowledged", acknowledged, user),
                    self._drop(acknowledged, now_ms, user)]
        self._reminders[alarm.id] = now_ms + self.profile.technical.reminder_ms
        present = self._present.get(alarm.key, alarm.priority)
        return [self._put(replace(acknowledged, priority=present), "acknowledged", user)]

    def pause(self, alarm_id: str, user: str, now_ms: int, seconds: float) -> list[AlarmEvent]:
        """Pause the bed's alarms up to this alarm's priority for ``seconds``.

        A new high-priority condition still fires during the pause.

        Raises:
            UnknownAlarmError: This bed has no open alarm with that id.
            PauseError: ``seconds`` is longer than the profile's ``max_pause_ms``.
        """
        alarm = self.find(alarm_id)
        longest_s = self.profile.technical.max_pause_ms / 1000
        if not 0 < seconds <= longest_s:
            raise PauseError(f"a pause lasts more than 0 and at most {longest_s:g} s, "
                             f"not {seconds:g} s")
        pausing_already = self._pause_until_ms is not None and now_ms < self._pause_until_ms
        higher = PRIORITY_RANK[alarm.priority] > PRIORITY_RANK[self._pause_ceiling]
        if not pausing_already or higher:
            self._pause_ceiling = alarm.priority
        until = now_ms + round(seconds * 1000)
        self._pause_until_ms = until
        events = []
        for other in list(self.alarms.values()):
            if other.state == "active" and self._pause_covers(other.priority, now_ms):
                paused = replace(other, state="paused", paused_until_ms=until, updated_ms=now_ms)
                events.append(self._put(paused, "paused", user))
        return events

    def end(self, now_ms: int, user: str | None = None) -> list[AlarmEvent]:
        """The session ended (by ``user``): every alarm of the bed clears in their name."""
        return [replace(self._drop(alarm, now_ms, user), detail="session ended")
                for alarm in list(self.alarms.values())]

    def _time_passes(self, now_ms: int) -> list[AlarmEvent]:
        """A pause that is over ends; an acknowledged alarm whose reminder is due is active."""
        events = []
        if self._pause_until_ms is not None and now_ms >= self._pause_until_ms:
            self._pause_until_ms = None
            for alarm in list(self.alarms.values()):
                if alarm.state == "paused":
                    events.append(self._put(
                        replace(alarm, state="active", paused_until_ms=None, updated_ms=now_ms),
                        "pause_ended",
                    ))
        for alarm in list(self.alarms.values()):
            due = self._reminders.get(alarm.id)
            if due is not None and now_ms >= due and alarm.state == "acknowledged":
                del self._reminders[alarm.id]
                again = replace(alarm, state="active", updated_ms=now_ms)
                events.append(self._put(again, "reminder"))
        return events
