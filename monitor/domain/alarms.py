"""Physiological alarm evaluation: ``(state, reading) -> (state, events)``.

Each alarm condition (a vital and a direction, e.g. ``sbp_high``) at a bed
has one alarm at a time. A rule of the condition is *satisfied* once its limit
has been breached by every reading of that vital for its condition delay (a
spot value with delay 0 at once); the alarm's priority is the highest of the
satisfied rules. Time is the device's clock, so a backlog delivered at once
after a reconnect is judged as it happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from monitor.domain.limits import PRIORITY_RANK, Priority, Profile, Rule, is_plausible
from monitor.domain.readings import BedRef, Reading

AlarmState = Literal["active", "acknowledged", "cleared"]
AlarmKind = Literal["physiological", "technical"]
Transition = Literal["raised", "priority_changed", "cleared"]


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm as the board and the audit trail show it."""

    id: str
    bed: BedRef
    session_id: str | None
    kind: AlarmKind
    code: str
    vital: str | None
    priority: Priority
    state: AlarmState
    value: float | None
    limit: float | None
    raised_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """A transition of an alarm, for the board, the pager and the audit log."""

    transition: Transition
    alarm: Alarm


@dataclass(frozen=True, slots=True)
class Condition:
    """One alarm condition at one bed: when each rule's breach began, and its alarm.

    ``last_ms`` is the device time of the last value judged, so a late value
    of this vital cannot move the condition back in time.
    """

    breach_since_ms: Mapping[int, int] = field(default_factory=dict)
    alarm: Alarm | None = None
    last_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BedAlarms:
    """The engine's state for one bed."""

    conditions: Mapping[str, Condition] = field(default_factory=dict)

    def active(self) -> list[Alarm]:
        """The bed's alarms that are not cleared."""
        return [c.alarm for c in self.conditions.values() if c.alarm is not None]


def new_alarm_id() -> str:
    """A fresh, unique alarm id."""
    return uuid.uuid4().hex


def _top_rule(rules: tuple[Rule, ...], since: Mapping[int, int], now_ms: int) -> Rule | None:
    satisfied = [
        rule for index, rule in enumerate(rules)
        if index in since and now_ms - since[index] >= rule.delay_ms
    ]
    return max(satisfied, key=lambda rule: PRIORITY_RANK[rule.priority], default=None)


def _step(
    condition: Condition,
    rules: tuple[Rule, ...],
    value: float,
    reading: Reading,
    *,
    session_id: str,
    new_id: Callable[[], str],
) -> tuple[Condition, AlarmEvent | None]:
    now = reading.ts_ms
    since = {
        index: condition.breach_since_ms.get(index, now)
        for index, rule in enumerate(rules)
        if rule.breached_by(value)
    }
    top = _top_rule(rules, since, now)
    alarm = condition.alarm
    event: AlarmEvent | None = None
    if top is not None and alarm is None:
        alarm = Alarm(
            id=new_id(), bed=reading.bed, session_id=session_id, kind="physiological",
            code=top.code, vital=top.vital, priority=top.priority, state="active",
            value=value, limit=top.limit, raised_ms=now, updated_ms=now,
        )
        event = AlarmEvent("raised", alarm)
    elif top is not None and alarm is not None and top.priority != alarm.priority:
        alarm = replace(alarm, priority=top.priority, value=value, limit=top.limit, updated_ms=now)
        event = AlarmEvent("priority_changed", alarm)
    elif top is None and alarm is not None:
        event = AlarmEvent("cleared", replace(alarm, state="cleared", value=value, updated_ms=now))
        alarm = None
    return Condition(since, alarm, now), event


def evaluate(
    profile: Profile,
    state: BedAlarms,
    reading: Reading,
    session_id: str | None,
    new_id: Callable[[], str] = new_alarm_id,
) -> tuple[BedAlarms, list[AlarmEvent]]:
    """Judge one reading against the profile.

    Only vitals the reading carries are judged: a vital absent, flagged by the
    device, or outside physiological bounds says nothing about the patient.
    A bed with no open session raises no physiological alarm, and a value
    older than one of the same vital already judged is not judged (it may
    come from a second device whose clock runs a little behind).
    """
    if session_id is None:
        return state, []
    conditions = dict(state.conditions)
    events: list[AlarmEvent] = []
    for vital, value in reading.vitals.items():
        if vital in reading.flags or not is_plausible(vital, value):
            continue
        for code, rules in profile.rules_for(vital).items():
            condition = conditions.get(code, Condition())
            if condition.last_ms is not None and reading.ts_ms < condition.last_ms:
                continue
            condition, event = _step(
                condition, rules, value, reading,
                session_id=session_id, new_id=new_id,
            )
            conditions[code] = condition
            if event is not None:
                events.append(event)
    return BedAlarms(conditions), events


def restore(profile: Profile, alarms: list[Alarm]) -> BedAlarms:
    """The engine state of a bed whose open alarms were read back from storage.

    Each rule of an alarm's condition counts as breached for its whole delay
    by the time the alarm was raised, so an alarm whose condition still holds
    stays up instead of clearing and waiting out its delay again.
    """
    conditions: dict[str, Condition] = {}
    for alarm in alarms:
        rules = profile.rules_for(alarm.vital).get(alarm.code, ()) if alarm.vital else ()
        conditions[alarm.code] = Condition(
            {index: alarm.raised_ms - rule.delay_ms for index, rule in enumerate(rules)}, alarm
        )
    return BedAlarms(conditions)
