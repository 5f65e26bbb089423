"""Background loops that outlive their own defects.

Every endless task of the service runs under :func:`supervised`: an
unexpected exception is logged with its traceback, counted, reported (the
service raises the high system alarm ``task_failed``) and the loop starts
again after a backoff. One defect never ends the TaskGroup, so the API and
the boards stay up and the monitor never goes quiet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

log = logging.getLogger(__name__)

RESTART_START_S: Final = 0.5
RESTART_MAX_S: Final = 30.0

Work = Callable[[], Coroutine[Any, Any, None]]
OnCrash = Callable[[str, Exception], Awaitable[None]]


def supervised(
    group: asyncio.TaskGroup, name: str, work: Work, on_crash: OnCrash,
    *, restart_start_s: float = RESTART_START_S,
) -> asyncio.Task[None]:
    """Run ``work()`` in ``group`` as task ``name``, starting it again whenever it fails."""
    async def run() -> None:
        delay = restart_start_s
        while True:
            try:
                await work()
            except Exception as error:  # a defect in one loop must not end the service
                log.exception("background task %s failed; restarting in %.1f s", name, delay)
                try:
                    await on_crash(name, error)
                except Exception:  # reporting must not stop the restart either
                    log.exception("reporting the failure of %s failed", name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESTART_MAX_S)
            else:
                return
    return group.create_task(run(), name=name)
