"""The pager pages each tier once per alarm and priority, and afresh once an alarm is over."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from monitor.app.pager import Pager, Retry
from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.paging import PagingPolicy, Tier
from monitor.domain.readings import BedRef


class Pages:
    """A paging target that keeps what it is sent."""

    name = "ward"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, page: dict[str, Any]) -> None:
        self.sent.append((page["alarm_id"], page["priority"]))


def alarm(alarm_id: str, bed: str) -> Alarm:
    return Alarm(alarm_id, BedRef("clinic", bed), "s-" + bed, "physiological", "spo2_low",
                 "spo2", "medium", "active", 88.0, 90.0, raised_ms=0, updated_ms=0)


async def paged(pager: Pager, *events: AlarmEvent) -> None:
    for event in events:
        pager.notify(event)
    for _ in range(3):  # each delivery is a task of its own
        await asyncio.sleep(0)


async def test_an_alarm_is_paged_again_only_once_it_is_over_or_reminded() -> None:
    target = Pages()
    policy = PagingPolicy((Tier("nurses", frozenset({"medium", "high"}), ("ward",), None),))
    pager = Pager(policy, {"ward": (target, Retry(attempts=1, backoff_s=0))})
    first, second = alarm("a-1", "chair-1"), alarm("a-2", "chair-2")
    await paged(pager, AlarmEvent("raised", first), AlarmEvent("raised", second))
    assert target.sent == [("a-1", "medium"), ("a-2", "medium")]

    await paged(pager, AlarmEvent("cleared", replace(first, state="cleared")),
                AlarmEvent("raised", first),
                AlarmEvent("priority_changed", second))
    assert target.sent[2:] == [("a-1", "medium")]

    await paged(pager, AlarmEvent("priority_changed", replace(second, priority="high")),
                AlarmEvent("reminder", first))
    assert target.sent[3:] == [("a-2", "high"), ("a-1", "medium")]
    await pager.close()
