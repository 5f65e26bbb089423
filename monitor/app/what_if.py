"""Threshold what-ifs, replayed through the live alarm engine in a worker process.

A what-if over hundreds of stored sessions is seconds of CPU. It runs in one
worker process, which reads the readings from the store itself, so the
event loop (ingest, alarms, the board) only sends session ids and gets
counts back. At most ``waiting`` what-ifs queue for the worker; more are
refused rather than left to pile up.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from monitor.app.ports import ReadingSource
from monitor.domain.limits import Profile
from monitor.domain.replay import Counts, replay_alarms
from monitor.domain.sessions import Session


class WhatIfBusyError(RuntimeError):
    """Too many what-ifs are waiting already."""


def replay_sessions(
    source: ReadingSource, profile: Profile, sessions: Sequence[Session]
) -> list[Counts]:
    """In the worker: what ``profile`` raises over each session's stored readings."""
    return [
        replay_alarms(session, profile, source.readings(session.id)) for session in sessions
    ]


class WhatIfWorker:
    """One worker process for what-ifs, started on first use."""

    def __init__(self, source: ReadingSource, *, waiting: int = 4) -> None:
        self._source = source
        self._slots = asyncio.Semaphore(waiting)
        self._waiting = waiting
        self._pool: ProcessPoolExecutor | None = None

    async def replay(self, profile: Profile, sessions: Sequence[Session]) -> list[Counts]:
        """What ``profile`` raises over each session, computed in the worker.

        Raises:
            WhatIfBusyError: ``waiting`` what-ifs are queued already.
        """
        if self._slots.locked():
            raise WhatIfBusyError(f"{self._waiting} what-ifs are running or waiting; try later")
        async with self._slots:
            if self._pool is None:
                # spawn, not fork: the monitor has threads (SQLite, the event loop's executor)
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, replay_sessions, self._source, profile, list(sessions))

    async def close(self) -> None:
        """Stop the worker process, if one was started."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: pool.shutdown(wait=True, cancel_futures=True))
