"""Alarms and physiological alarm conditions.

An alarm *condition* (a vital and a direction, e.g. ``sbp_high``) is judged
by :func:`judge`: ``(condition, value) -> (condition, verdict)``. A rule of
the condition is *satisfied* once its limit has been breached by every value
of that vital for its condition delay (a spot value with delay 0 at once);
the verdict's priority is the highest of the satisfied rules. Delays are
measured on the device's clock, so a backlog delivered at once after a
reconnect is judged as it happened. What an alarm does over its life
(latching, acknowledge, pause) is :mod:`monitor.domain.engine`'s business.
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

AUDIT_ONLY: Final = frozenset({"paged", "page_failed", "reminder"})
"""Transitions recorded in the audit log that do not change the alarm."""
PAGE_RECORDS: Final = frozenset({"paged", "page_failed"})
"""Transitions that carry the alarm as it was when paged, not as it is now."""

CLOCK_JUMP_MS: Final = 60_000
"""A value this much older than the last one judged means the device clock was reset."""


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm as the board and the audit trail show it.

    Attributes:
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
    """What a condition says now: present at ``priority`` (None: absent)."""

    priority: Priority | None
    value: float
    limit: float | None


@dataclass(frozen=True, slots=True)
class Condition:
    """One alarm condition at one bed: when each rule's breach began.

    ``satisfied`` are the rules whose breach has lasted their delay; only
    they get the hysteresis.
    """

    breach_since_ms: Mapping[int, int] = field(default_factory=dict)
    satisfied: frozenset[int] = frozenset()


CLEAR: Final = Condition()
"""No rule of the condition is breached (shared: a calm bed allocates nothing)."""


def judge(
    condition: Condition,
    rules: tuple[Rule, ...],
    value: float,
    ts_ms: int,
    baseline: Mapping[str, float],
    *,
    last_ms: int | None,
) -> tuple[Condition, Verdict | None]:
    """Judge one value taken at ``ts_ms``; ``last_ms`` is when the last one judged was.

    The verdict is None when the value is too late to count, so a late value
    cannot move the condition back.
    """
    if last_ms is not None and ts_ms < last_ms:
        if last_ms - ts_ms < CLOCK_JUMP_MS:
            return condition, None
        condition = CLEAR  # the device's clock went back: start timing afresh
    since: dict[int, int] = {}
    satisfied: set[int] = set()
    top: Rule | None = None
    top_limit = 0.0
    breach_since, holding = condition.breach_since_ms, condition.satisfied
    for index, rule in enumerate(rules):
        limit = rule.limit if rule.limit is not None else rule.limit_for(baseline)
        if limit is None or not rule.breached_by(value, limit, holding=index in holding):
            continue
        started = since[index] = breach_since.get(index, ts_ms)
        if ts_ms - started >= rule.delay_ms:
            satisfied.add(index)
            if top is None or PRIORITY_RANK[rule.priority] > PRIORITY_RANK[top.priority]:
                top, top_limit = rule, limit
    if not since:
        return CLEAR, Verdict(None, value, None)
    verdict = Verdict(None, value, None) if top is None else Verdict(top.priority, value, top_limit)
    return Condition(since, frozenset(satisfied)), verdict
