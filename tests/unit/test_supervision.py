"""A background loop that fails is reported and started again; the group lives on."""

from __future__ import annotations

import asyncio

from monitor.app.supervision import supervised


async def test_a_failing_loop_is_reported_and_restarted_and_the_group_survives() -> None:
    runs: list[int] = []
    reports: list[tuple[str, str]] = []
    again = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise sqlite_like_error()
        again.set()
        await asyncio.Event().wait()

    async def report(name: str, error: Exception) -> None:
        reports.append((name, str(error)))

    async with asyncio.TaskGroup() as group:
        task = supervised(group, "heartbeat", flaky, report, restart_start_s=0.01)
        neighbour = group.create_task(asyncio.sleep(3600))
        await asyncio.wait_for(again.wait(), 2)
        assert not neighbour.done()
        task.cancel()
        neighbour.cancel()
    assert runs == [0, 1]
    assert reports == [("heartbeat", "database or disk is full")]


def sqlite_like_error() -> Exception:
    return OSError("database or disk is full")
