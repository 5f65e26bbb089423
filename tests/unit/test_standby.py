"""The standby/active state machine over a lease held in memory."""

from __future__ import annotations

import asyncio

import pytest

from monitor.app.ports import LeaseLostError
from monitor.app.standby import ActiveStandby


class MemoryLease:
    """A lease whose answers the test decides: a list of outcomes for each try."""

    def __init__(self, tries: list[bool | OSError]) -> None:
        self._tries = tries
        self.holder: str | None = "monitor-a"
        self.token = 6
        self.lost = False

    async def try_acquire(self) -> bool:
        outcome = self._tries.pop(0)
        if isinstance(outcome, OSError):
            raise outcome
        return outcome

    async def begin_term(self) -> int:
        self.token += 1
        return self.token

    async def check(self) -> None:
        if self.lost:
            raise LeaseLostError("another monitor is active")

    async def close(self) -> None:
        """Nothing to let go of."""


async def test_a_monitor_that_gets_the_lease_at_once_did_not_take_over() -> None:
    roles = ActiveStandby(MemoryLease([True]), poll_s=0.01)
    await roles.wait_until_active()
    assert (roles.role, roles.took_over) == ("standby", False)
    assert await roles.begin_term() == 7
    assert (roles.role, roles.reason) == ("active", "active")


async def test_a_standby_tries_until_the_holder_goes_and_says_why_meanwhile() -> None:
    lease = MemoryLease([False, OSError("connection refused"), False, True])
    roles = ActiveStandby(lease, poll_s=0.01)
    reasons: list[str] = []

    async def watch() -> None:
        while True:
            if not reasons or reasons[-1] != roles.reason:
                reasons.append(roles.reason)
            await asyncio.sleep(0.001)
    watching = asyncio.create_task(watch())
    await roles.wait_until_active()
    watching.cancel()
    assert roles.took_over
    assert "standby: monitor-a is active" in reasons
    assert any("database cannot be reached (connection refused)" in r for r in reasons)
    assert lease._tries == []  # noqa: SLF001 - every outcome was asked for


async def test_the_active_stops_holding_when_the_lease_is_lost() -> None:
    lease = MemoryLease([True])
    roles = ActiveStandby(lease, poll_s=0.01, check_s=0.01)
    await roles.wait_until_active()
    await roles.begin_term()
    holding = asyncio.create_task(roles.hold())
    await asyncio.sleep(0.05)
    assert not holding.done()
    lease.lost = True
    with pytest.raises(LeaseLostError):
        await asyncio.wait_for(holding, 1)
    assert roles.role == "standby"
    assert roles.reason.startswith("lease lost: another monitor is active")
