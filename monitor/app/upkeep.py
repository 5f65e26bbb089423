"""The service's upkeep: a heartbeat for crash detection, and the retention job."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Final

from monitor.app.counters import now_ms
from monitor.app.ports import RecordStore, StoreUnavailableError, VitalsStore
from monitor.app.reports import Reports

log = logging.getLogger(__name__)

DAY_MS: Final = 24 * 3600 * 1000
PRUNE_EVERY_S: Final = 3600.0
HEARTBEAT_S: Final = 10.0


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
