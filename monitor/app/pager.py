"""Paging staff: delivery with retries, escalation timers, no duplicate pages.

:class:`Pager` is told every alarm event (:meth:`Pager.notify`, which never
blocks) and runs each delivery and escalation as its own task. Each outcome
is queued on :attr:`Pager.outcomes`, from which the alarm actions record a
``paged`` or ``page_failed`` audit event, and for a failure raise the
technical alarm on the bed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from monitor.app.ports import PageDeliveryError, PagerTarget
from monitor.domain.alarms import AUDIT_ONLY, Alarm, AlarmEvent
from monitor.domain.paging import PagingPolicy

log = logging.getLogger(__name__)


class TargetConfig(BaseModel):
    """What every paging target's configuration has: its kind, and how hard it is tried."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="which pager adapter carries the page")
    attempts: int = Field(default=3, ge=1, description="tries before the page counts as failed")
    backoff_s: float = Field(default=0.5, ge=0, description="first wait between tries, doubling")


@dataclass(frozen=True, slots=True)
class TargetContext:
    """What building a target may use.

    Attributes:
        publish: Publishes on the monitor's own broker connection (topic, payload).
        stack: Closes what a target opens (an HTTP client) when the service stops.
        secret: The value of an environment variable the configuration names.
        data_dir: The monitor's data directory (a relative file path is taken from there).
    """

    publish: Callable[[str, bytes], Awaitable[None]]
    stack: AsyncExitStack
    secret: Callable[[str], str]
    data_dir: Path


@dataclass(frozen=True, slots=True)
class Retry:
    """How often a target is tried, and the first wait between tries (doubling)."""

    attempts: int
    backoff_s: float


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of paging one target about one alarm."""

    alarm: Alarm
    tier: str
    target: str
    delivered: bool
    detail: str


def page_payload(alarm: Alarm, tier: str) -> dict[str, Any]:
    """The JSON a page carries (also on the MQTT alerts topic)."""
    value = "" if alarm.value is None else f" {alarm.value:g}"
    limit = "" if alarm.limit is None else f" (limit {alarm.limit:g})"
    return {
        "type": "alarm", "alarm_id": alarm.id, "site": alarm.bed.site, "bed": alarm.bed.bed,
        "session_id": alarm.session_id, "kind": alarm.kind, "code": alarm.code,
        "vital": alarm.vital, "priority": alarm.priority, "state": alarm.state,
        "value": alarm.value, "limit": alarm.limit, "raised_ms": alarm.raised_ms, "tier": tier,
        "text": f"[{alarm.priority.upper()}] {alarm.bed.site}/{alarm.bed.bed} "
                f"{alarm.code}{value}{limit}",
    }


class Pager:
    """Pages tiers of staff about active alarms, escalating while nobody acknowledges."""

    def __init__(
        self,
        policy: PagingPolicy,
        targets: dict[str, tuple[PagerTarget, Retry]],
    ) -> None:
        self._policy = policy
        self._targets = targets
        self.outcomes: asyncio.Queue[Delivery] = asyncio.Queue()
        """Every delivery's outcome, for the audit log (see ``AlarmActions.record_pages``)."""
        self._alarms: dict[str, Alarm] = {}
        self._paged: dict[str, set[tuple[int, str]]] = {}
        """Per alarm, the (tier, priority) pairs it was paged for, so one is forgotten alone."""
        self._reached: dict[str, int] = {}
        self._escalations: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def notify(self, event: AlarmEvent) -> None:
        """Take note of an alarm transition; page or stop escalating as it says."""
        alarm = event.alarm
        if event.transition in AUDIT_ONLY:
            return
        if alarm.state != "active":
            self._alarms.pop(alarm.id, None)
            escalation = self._escalations.pop(alarm.id, None)
            if escalation is not None:
                escalation.cancel()
            if alarm.state == "cleared":
                self._paged.pop(alarm.id, None)
                self._reached.pop(alarm.id, None)
            return
        self._alarms[alarm.id] = alarm
        if event.transition == "reminder":  # still unresolved: page afresh, from the first tier
            self._paged.pop(alarm.id, None)
            self._reached.pop(alarm.id, None)
        if event.transition in ("raised", "priority_changed", "pause_ended", "reminder"):
            tier = self._policy.first_tier(alarm)
            if tier is not None:
                self._page(alarm, tier)

    def _page(self, alarm: Alarm, tier: int) -> None:
        spec = self._policy.tiers[tier]
        paged = self._paged.setdefault(alarm.id, set())
        if (tier, alarm.priority) not in paged:
            paged.add((tier, alarm.priority))
            for name in spec.targets:
                target, retry = self._targets[name]
                self._spawn(self._deliver(alarm, spec.name, target, retry), f"page-{name}")
        reached = self._reached[alarm.id] = max(self._reached.get(alarm.id, tier), tier)
        after_ms = self._policy.tiers[reached].escalate_after_ms
        if after_ms is not None and alarm.id not in self._escalations:
            self._escalations[alarm.id] = self._spawn(
                self._escalate(alarm.id, reached, after_ms / 1000), "escalate"
            )

    def _spawn(self, work: Any, name: str) -> asyncio.Task[None]:  # noqa: ANN401 - a coroutine
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _escalate(self, alarm_id: str, tier: int, after_s: float) -> None:
        await asyncio.sleep(after_s)
        self._escalations.pop(alarm_id, None)
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            return
        following = self._policy.next_tier(alarm, tier)
        if following is not None:
            log.warning("alarm %s unacknowledged after %.0f s: paging tier %s",
                        alarm_id, after_s, self._policy.tiers[following].name)
            self._page(alarm, following)

    async def _deliver(self, alarm: Alarm, tier: str, target: PagerTarget, retry: Retry) -> None:
        page = page_payload(alarm, tier)
        delay = retry.backoff_s
        problem = ""
        for attempt in range(1, retry.attempts + 1):
            try:
                await target.send(page)
            except PageDeliveryError as error:
                problem = str(error)
                log.warning("page %s to %s failed (attempt %d of %d): %s",
                            alarm.id, target.name, attempt, retry.attempts, problem)
                if attempt < retry.attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
            else:
                self.outcomes.put_nowait(Delivery(
                    alarm, tier, target.name, True,
                    f"tier {tier} via {target.name}, attempt {attempt}"))
                return
        self.outcomes.put_nowait(Delivery(alarm, tier, target.name, False,
                                          f"tier {tier} via {target.name}: {problem}"))

    async def close(self) -> None:
        """Stop every escalation and delivery still under way."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
