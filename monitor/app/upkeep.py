"""The service's upkeep: a heartbeat for crash detection, the retention job, short collections."""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
import time
from typing import Final

from monitor.app.counters import now_ms
from monitor.app.ports import RecordStore, StoreUnavailableError, VitalsStore
from monitor.app.reports import Reports

log = logging.getLogger(__name__)

DAY_MS: Final = 24 * 3600 * 1000
PRUNE_EVERY_S: Final = 3600.0
HEARTBEAT_S: Final = 10.0
FREEZE_EVERY_S: Final = 10.0
THAW_EVERY: Final = 360
"""Freezes between thaws: once an hour."""


async def prune_forever(retention_days: float, vitals: VitalsStore, reports: Reports) -> None:
    """Once an hour: keep the reports of sessions whose readings age out, then prune."""
    while True:
        cutoff = now_ms() - round(retention_days * DAY_MS)
        try:
            await reports.keep_all_ended()
            await vitals.prune(cutoff)
        except StoreUnavailableError as error:
            log.warning("pruning readings before %s waits: %s", cutoff, error)
        await asyncio.sleep(PRUNE_EVERY_S)


async def heartbeat(store: RecordStore) -> None:
    """Note the time now and then, so a restart after a crash can say when it happened.

    A heartbeat that cannot be written (a full disk) is skipped: the readings'
    commits fail too, and they raise ``storage_failed``.
    """
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            await store.mark_seen(now_ms())
        except (sqlite3.Error, OSError) as error:
            log.warning("heartbeat not written: %s", error)


async def keep_collections_short(every_s: float = FREEZE_EVERY_S,
                                 thaw_every: int = THAW_EVERY) -> None:
    """Keep the cyclic collector's full passes short while the open sessions' state grows.

    A full pass walks every object the collector tracks, about 0.2 µs each on
    a small server: at 4,000 open sessions that held the event loop for 90 to
    150 ms every few seconds, and readings waited meanwhile. Nearly all that
    is alive lives long (engines, the board), so every ``every_s`` it is moved
    out of the collector's reach (``gc.freeze``). Reference counting still
    frees frozen objects; only a cycle frozen before it became garbage would
    stay, so every ``thaw_every`` freezes everything is thawed and collected
    at once: one long pass an hour, logged with what it took.
    """
    freezes = 0
    while True:
        await asyncio.sleep(every_s)
        freezes += 1
        if freezes % thaw_every:
            gc.freeze()
            continue
        gc.unfreeze()
        started = time.perf_counter()
        collected = gc.collect()
        log.info("thawed and collected: %d objects freed in %.0f ms", collected,
                 1000 * (time.perf_counter() - started))
