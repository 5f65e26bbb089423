"""Alarms and physiological alarm conditions.

An alarm *condition* (a vital and a direction, e.g. ``sbp_high``) is judged
by :func:`judge`: ``(condition, value) -> (condition, verdict)``. A rule of
the condition is *satisfied* once its limit has been breached by every value
of that vital for its condition delay (a spot value with delay 0 at once);
the verdict's priority is the highest of the satisfied rules.

A delay is timed on two clocks at once, and either one satisfies it: the
monitor's receive time, so no device clock (frozen, stepped, drifting) can
hold an alarm back longer than its delay plus one reading; and the device's
timestamps, so a backlog the broker delivers at once after a reconnect is
judged as it happened. What an alarm does over its life (latching,
acknowledge, pause) is :mod:`monitor.domain.engine`'s business.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from monitor.domain.limits import PRIORITY_RANK, Priority, Rule
from monitor.domain.readings import BedRef

AlarmState = Literal["active", "acknowledged", "paused", "cleared"]
AlarmKind = Literal["physiological", "technical"]
Transition = Literal[
    "raised", "priority_changed", "condition_ended", "condition_returned", "acknowledged",
    "paused", "pause_ended", "reminder", "cleared", "paged", "page_failed",
]

AUDIT_ONLY: Final = frozenset({"paged", "page_failed"})
"""Transitions recorded in the audit log that do not change the alarm."""
PAGE_RECORDS: Final = frozenset({"paged", "page_failed"})
"""Transitions that carry the alarm as it was when paged, not as it is now."""


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm as the board and the audit trail show it.

    Attributes:
        value: The value at the latest transition (at clearing, the value
            that ended the condition).
        condition_present: False once the condition has ended while the
            alarm stays on the board (a latched high-priority alarm).
        acknowledged_by: Who acknowledged it, if anyone.
        paused_until_ms: End of the pause the alarm is in, if paused.
    """

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
    condition_present: bool = True
    acknowledged_by: str | None = None
    acknowledged_ms: int | None = None
    paused_until_ms: int | None = None
    onset_value: float | None = None
    """The value that raised the alarm."""
    worst_value: float | None = None
    """The furthest beyond the limit the value went while the alarm stood."""

    @property
    def key(self) -> str:
        """Identity of the condition at its bed: ``sbp_high``, ``stale:spo2``, ``offline``."""
        return alarm_key(self.kind, self.code, self.vital)


def alarm_key(kind: AlarmKind, code: str, vital: str | None) -> str:
    """The key of an alarm condition at a bed (see :attr:`Alarm.key`)."""
    if kind == "physiological" or vital is None:
        return code
    return f"{code}:{vital}"


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """A transition of an alarm, for the board, the pager and the audit log."""

    transition: Transition
    alarm: Alarm
    user: str | None = None
    detail: str | None = None
    at_ms: int | None = None
    """When, if not the alarm's ``updated_ms`` (audit-only events such as ``paged``)."""


def new_alarm_id() -> str:
    """A fresh, unique alarm id."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a condition says now: present at ``priority`` with ``limit`` (None: absent)."""

    priority: Priority | None
    limit: float | None


ABSENT: Final = Verdict(None, None)
"""The condition is not present (shared: a calm bed allocates nothing)."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One alarm condition at one bed: when each rule's breach began, on both clocks.

    ``satisfied`` are the rules whose breach has lasted their delay; only
    they get the hysteresis. ``last_device_ms`` is the device time of the
    last value judged, to see the device clock go back.
    """

    since_ms: Mapping[int, int] = field(default_factory=dict)
    since_device_ms: Mapping[int, int] = field(default_factory=dict)
    satisfied: frozenset[int] = frozenset()
    last_device_ms: int | None = None


CLEAR: Final = Condition()
"""No rule of the condition is breached (shared: a calm bed allocates nothing)."""


def judge(
    condition: Condition,
    rules: tuple[Rule, ...],
    value: float,
    baseline: Mapping[str, float],
    *,
    now_ms: int,
    device_ms: int,
    late: bool = False,
) -> tuple[Condition, Verdict | None]:
    """Judge one value received at ``now_ms`` and taken at ``device_ms`` (device clock).

    A ``late`` value (one the device sent before values already judged) is
    judged against the rules without a delay (spot values and critical
    limits) and leaves the condition's timing alone; its verdict is None
    when it breaches none of them, as it cannot end a condition.
    """
    if late:
        return condition, _spot_verdict(rules, value, baseline)
    if not condition.since_ms and not _breaches_any(rules, value, baseline):
        return CLEAR, ABSENT
    last_device = condition.last_device_ms
    device_back = last_device is not None and device_ms < last_device
    since: dict[int, int] = {}
    since_device: dict[int, int] = {}
    satisfied: set[int] = set()
    top: Rule | None = None
    top_limit = 0.0
    for index, rule in enumerate(rules):
        limit = rule.limit if rule.limit is not None else rule.limit_for(baseline)
        holding = index in condition.satisfied
        if limit is None or not rule.breached_by(value, limit, holding=holding):
            continue
        started = since[index] = condition.since_ms.get(index, now_ms)
        started_device = condition.since_device_ms.get(index, device_ms)
        if device_back:  # the device clock went back: time afresh on it
            started_device = device_ms
        since_device[index] = started_device
        if (now_ms - started >= rule.delay_ms or device_ms - started_device >= rule.delay_ms
                or holding):
            satisfied.add(index)
            if top is None or PRIORITY_RANK[rule.priority] > PRIORITY_RANK[top.priority]:
                top, top_limit = rule, limit
    if not since:
        return CLEAR, ABSENT
    verdict = ABSENT if top is None else Verdict(top.priority, top_limit)
    return Condition(since, since_device, frozenset(satisfied), device_ms), verdict


def _breaches_any(rules: tuple[Rule, ...], value: float, baseline: Mapping[str, float]) -> bool:
    """Whether ``value`` breaches any rule, without hysteresis (no rule is holding)."""
    for rule in rules:
        limit = rule.limit if rule.limit is not None else rule.limit_for(baseline)
        if limit is not None and rule.breached_by(value, limit):
            return True
    return False


def _spot_verdict(
    rules: tuple[Rule, ...], value: float, baseline: Mapping[str, float]
) -> Verdict | None:
    top: Rule | None = None
    top_limit = 0.0
    for rule in rules:
        limit = rule.limit_for(baseline)
        if rule.delay_ms == 0 and limit is not None and rule.breached_by(value, limit) and (
                top is None or PRIORITY_RANK[rule.priority] > PRIORITY_RANK[top.priority]):
            top, top_limit = rule, limit
    return None if top is None else Verdict(top.priority, top_limit)


def worse(code: str, current: float | None, value: float | None) -> float | None:
    """The further from normal of two values of an alarm condition (``*_high``: higher)."""
    if current is None or value is None:
        return value if current is None else current
    return max(current, value) if code.endswith("_high") else min(current, value)
