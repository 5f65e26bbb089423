"""The alarm engine of one bed during one session (no I/O; time is passed in).

Physiological conditions come from :func:`monitor.domain.alarms.judge`;
technical ones from what the device sends or fails to send. Every change of
an alarm is returned as an :class:`AlarmEvent`. The life of an alarm follows
IEC 60601-1-8 conventions:

- a condition that ends clears its alarm, except a high-priority alarm not
  yet acknowledged: it *latches* and stays until acknowledged;
- acknowledging keeps the alarm while its condition lasts, with a reminder
  every ``reminder_ms``; a rise in priority makes it active again;
- a pause silences the bed's alarms up to the paused alarm's priority for a
  while; a new alarm of higher priority still fires.

Alarm times are the monitor's clock (``now_ms``); condition delays use the
device's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from monitor.domain.alarms import (
    CLEAR,
    Alarm,
    AlarmEvent,
    AlarmKind,
    Condition,
    Transition,
    alarm_key,
    judge,
    new_alarm_id,
)
from monitor.domain.discharge import DischargeTracker
from monitor.domain.limits import PRIORITY_RANK, Priority, Profile, is_plausible
from monitor.domain.readings import CONTINUOUS_VITALS, Reading
from monitor.domain.sessions import Session

TECHNICAL_PRIORITY: Final[Mapping[str, Priority]] = {
    "stale": "medium",
    "nibp_overdue": "medium",
    "sensor_off": "medium",
    "implausible": "low",
    "page_failed": "medium",
}
"""Priority of each technical alarm; ``offline`` is high during infusion, else medium."""

BP_VITALS: Final = ("sbp", "dbp", "map")


class UnknownAlarmError(KeyError):
    """No alarm of this bed has that id."""


@dataclass(slots=True)
class _Watch:
    """What the device has sent, by the monitor's clock."""

    started_ms: int
    last_any_ms: int | None = None
    last_seen_ms: dict[str, int] = field(default_factory=dict)
    last_bp_ms: int | None = None
    device_offline: bool = False


class BedEngine:
    """All alarms of one bed while a session is open there."""

    def __init__(
        self,
        session: Session,
        profile: Profile,
        *,
        now_ms: int,
        new_id: Callable[[], str] = new_alarm_id,
    ) -> None:
        self.session = session
        self.profile = profile
        self.alarms: dict[str, Alarm] = {}
        self.discharge: DischargeTracker | None = None
        self._new_id = new_id
        self._conditions: dict[str, Condition] = {}
        self._last_judged_ms: dict[str, int] = {}
        self._watch = _Watch(started_ms=now_ms)
        self._reminders: dict[str, int] = {}
        self._pause_until_ms: int | None = None
        self._pause_ceiling: Priority = "low"
        self._failed_targets: set[str] = set()
        self._follow_phase()

    def _follow_phase(self) -> None:
        if self.session.phase == "observation" and self.discharge is None:
            self.discharge = DischargeTracker(self.session.baseline)
        elif self.session.phase != "observation":
            self.discharge = None

    def update_session(self, session: Session, profile: Profile, now_ms: int) -> list[AlarmEvent]:
        """The session changed phase, baseline or thresholds."""
        changed_rules = profile is not self.profile
        self.session, self.profile = session, profile
        if changed_rules:
            self._conditions_from_alarms()
        self._follow_phase()
        return self.tick(now_ms)

    def restore(self, alarms: list[Alarm]) -> None:
        """Take back the open alarms stored before a restart."""
        for alarm in alarms:
            self.alarms[alarm.key] = alarm
        self._conditions_from_alarms()

    def _conditions_from_alarms(self) -> None:
        """Start condition timing afresh from the open alarms (after a restart or new rules).

        An open physiological alarm counts its rules as breached for their
        whole delay, so it stays up while its condition still holds.
        """
        self._conditions = {}
        self._last_judged_ms = {}
        for alarm in self.alarms.values():
            if alarm.kind == "physiological" and alarm.vital is not None:
                rules = self.profile.rules_for(alarm.vital).get(alarm.code, ())
                since = {i: alarm.raised_ms - rule.delay_ms for i, rule in enumerate(rules)}
                satisfied = frozenset(
                    i for i, rule in enumerate(rules)
                    if alarm.condition_present and rule.priority == alarm.priority
                )
                self._conditions[alarm.code] = Condition(since, satisfied)

    # What the device sends

    def on_reading(self, reading: Reading, now_ms: int) -> list[AlarmEvent]:
        """Judge one reading received at ``now_ms``."""
        watch = self._watch
        watch.last_any_ms, watch.device_offline = now_ms, False
        for vital in (*reading.vitals, *reading.flags):
            if vital in CONTINUOUS_VITALS:
                watch.last_seen_ms[vital] = now_ms
            elif vital in BP_VITALS:
                watch.last_bp_ms = now_ms
        # A reading can only end technical alarms; new ones (silence, a vital
        # gone stale) are raised by the clock's tick.
        events = self._technical(now_ms) if self.alarms else []
        good: dict[str, float] = {}
        for vital, flag in reading.flags.items():
            off = "sensor_off" if flag == "sensor_off" else None
            events += self._set_technical("sensor_off", vital, off is not None, now_ms)
        for vital, value in reading.vitals.items():
            if vital in reading.flags:
                continue
            events += self._set_technical("sensor_off", vital, False, now_ms)
            plausible = is_plausible(vital, value)
            events += self._set_technical("implausible", vital, not plausible, now_ms, value)
            if plausible:
                good[vital] = value
                events += self._judge(vital, value, reading.ts_ms, now_ms)
        if self.discharge is not None:
            self.discharge.on_values(good, now_ms)
        return events

    def _judge(self, vital: str, value: float, ts_ms: int, now_ms: int) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        for code, rules in self.profile.rules_for(vital).items():
            condition, verdict = judge(
                self._conditions.get(code, CLEAR), rules, value, ts_ms, self.session.baseline,
                last_ms=self._last_judged_ms.get(code))
            self._conditions[code] = condition
            if verdict is not None:
                self._last_judged_ms[code] = ts_ms
                events += self._set(
                    "physiological", code, vital, verdict.priority, value=verdict.value,
                    limit=verdict.limit, now_ms=now_ms,
                )
        return events

    def on_device_status(self, online: bool, now_ms: int) -> list[AlarmEvent]:
        """The device's retained status (``offline`` is its last will)."""
        self._watch.device_offline = not online
        if online:
            self._watch.last_any_ms = now_ms
        return self._technical(now_ms)

    def page_outcome(
        self, target: str, delivered: bool, now_ms: int, detail: str | None = None
    ) -> list[AlarmEvent]:
        """A page about this bed to ``target`` was delivered or not.

        The ``page_failed`` alarm stands while any target's last page failed.
        """
        if delivered:
            self._failed_targets.discard(target)
        else:
            self._failed_targets.add(target)
        events = self._set_technical("page_failed", None, bool(self._failed_targets), now_ms)
        return [replace(event, detail=detail) for event in events]

    # Time passing

    def tick(self, now_ms: int) -> list[AlarmEvent]:
        """Silence, overdue blood pressure, pause ends and reminders as of ``now_ms``."""
        events = self._technical(now_ms)
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
                self._reminders[alarm.id] = now_ms + self.profile.technical.reminder_ms
                events.append(AlarmEvent("reminder", alarm, at_ms=now_ms))
        return events

    def _technical(self, now_ms: int) -> list[AlarmEvent]:
        timings, watch = self.profile.technical, self._watch
        silent_ms = now_ms - (watch.last_any_ms or watch.started_ms)
        offline = watch.device_offline or silent_ms > timings.offline_after_ms
        priority: Priority = "high" if self.session.phase == "infusion" else "medium"
        events = self._set("technical", "offline", None, priority if offline else None,
                           value=None, limit=None, now_ms=now_ms)
        for vital, seen_ms in watch.last_seen_ms.items():
            stale = not offline and now_ms - seen_ms > timings.stale_after_ms
            events += self._set_technical("stale", vital, stale, now_ms)
        if watch.last_bp_ms is not None:
            overdue_after = timings.nibp_cycle_ms + timings.nibp_grace_ms
            overdue = not offline and now_ms - watch.last_bp_ms > overdue_after
            events += self._set_technical("nibp_overdue", None, overdue, now_ms)
        return events

    def _set_technical(
        self, code: str, vital: str | None, present: bool, now_ms: int, value: float | None = None
    ) -> list[AlarmEvent]:
        priority = TECHNICAL_PRIORITY[code] if present else None
        return self._set("technical", code, vital, priority, value=value, limit=None,
                         now_ms=now_ms)

    # Lifecycle

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
        if priority is None and not self.alarms:
            return []
        alarm = self.alarms.get(alarm_key(kind, code, vital))
        if priority is None:
            if alarm is None or not alarm.condition_present:
                return []
            if alarm.priority == "high" and alarm.state in ("active", "paused"):
                ended = replace(alarm, condition_present=False, value=value, updated_ms=now_ms)
                return [self._put(ended, "condition_ended")]
            return [self._drop(replace(alarm, value=value), now_ms)]
        if alarm is None:
            paused = self._pause_covers(priority, now_ms)
            alarm = Alarm(
                id=self._new_id(), bed=self.session.bed, session_id=self.session.id, kind=kind,
                code=code, vital=vital, priority=priority,
                state="paused" if paused else "active", value=value, limit=limit,
                raised_ms=now_ms, updated_ms=now_ms,
                paused_until_ms=self._pause_until_ms if paused else None,
            )
            return [self._put(alarm, "raised")]
        events: list[AlarmEvent] = []
        if not alarm.condition_present:
            alarm = replace(alarm, condition_present=True, value=value, limit=limit,
                            updated_ms=now_ms)
            events.append(self._put(alarm, "condition_returned"))
        if priority != alarm.priority:
            state = alarm.state
            rises = PRIORITY_RANK[priority] > PRIORITY_RANK[alarm.priority]
            if rises and state != "active" and not self._pause_covers(priority, now_ms):
                state = "active"
                self._reminders.pop(alarm.id, None)
            alarm = replace(
                alarm, priority=priority, state=state, value=value, limit=limit,
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
        return [self._put(acknowledged, "acknowledged", user)]

    def pause(self, alarm_id: str, user: str, now_ms: int, seconds: float) -> list[AlarmEvent]:
        """Pause the bed's alarms up to this alarm's priority for ``seconds``.

        Raises:
            UnknownAlarmError: This bed has no open alarm with that id.
        """
        alarm = self.find(alarm_id)
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

    def end(self, now_ms: int) -> list[AlarmEvent]:
        """The session ended: every alarm of the bed clears."""
        return [self._drop(alarm, now_ms) for alarm in list(self.alarms.values())]

    def board_status(self, now_ms: int) -> dict[str, object]:
        """Discharge readiness and pause, for the bed's tile."""
        paused = self._pause_until_ms is not None and now_ms < self._pause_until_ms
        return {
            "discharge": self.discharge.status(now_ms) if self.discharge else None,
            "paused_until_ms": self._pause_until_ms if paused else None,
        }
