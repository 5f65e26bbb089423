"""Shipping the durable outbox to InfluxDB, in order, and saying when that fails.

Readings wait in SQLite's ``outbox`` (committed before the broker got its
acknowledgement). The shipper writes the oldest first and forgets them only
once InfluxDB took them; a write that InfluxDB took but whose answer was lost
is written again, which InfluxDB stores once (same series, same time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from monitor.app.ports import RecordStore, StoreUnavailableError, VitalsSink

log = logging.getLogger(__name__)

RETRY_START_S: Final = 0.2
RETRY_MAX_S: Final = 5.0
FAILURES_FOR_OUTAGE: Final = 2
IDLE_CHECK_S: Final = 1.0
GATHER_S: Final = 0.1
"""After shipping all that waited, let this long pass before the next write, so live
readings go to InfluxDB in a few writes a second instead of one per commit."""


class OutboxShipper:
    """Moves the outbox into InfluxDB."""

    def __init__(
        self,
        store: RecordStore,
        influx: VitalsSink,
        *,
        batch: int,
        on_outage: Callable[[str | None], Awaitable[None]],
    ) -> None:
        self._store = store
        self._influx = influx
        self._batch = batch
        self._on_outage = on_outage
        self._more = asyncio.Event()
        self.healthy = True
        self.shipped = 0

    async def flush(self, timeout_s: float) -> int:
        """Ship what waits, for at most ``timeout_s`` (at shutdown); returns how many are left.

        What InfluxDB does not take stays in the outbox for the next start.
        """
        try:
            async with asyncio.timeout(timeout_s):
                while rows := await self._store.outbox_peek(self._batch):
                    await self._influx.write_lines([text for _, text in rows])
                    await self._store.outbox_done(rows[-1][0])
                    self.shipped += len(rows)
        except (TimeoutError, StoreUnavailableError) as error:
            log.warning("shutdown: the outbox keeps what InfluxDB did not take (%r)", error)
        return await self._store.outbox_depth()

    def kick(self) -> None:
        """New lines were committed to the outbox."""
        self._more.set()

    async def run(self) -> None:
        """Ship forever."""
        failures, delay = 0, RETRY_START_S
        while True:
            rows = await self._store.outbox_peek(self._batch)
            if not rows:
                self._more.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_CHECK_S):
                        await self._more.wait()
                continue
            try:
                await self._influx.write_lines([text for _, text in rows])
            except StoreUnavailableError as error:
                failures += 1
                self.healthy = False
                log.warning("InfluxDB did not take %d readings (%s); retrying in %.1f s",
                            len(rows), error, delay)
                if failures == FAILURES_FOR_OUTAGE:
                    await self._on_outage(str(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            await self._store.outbox_done(rows[-1][0])
            self.shipped += len(rows)
            if failures >= FAILURES_FOR_OUTAGE:
                log.info("InfluxDB is back; the outbox is being shipped")
                await self._on_outage(None)
            failures, delay, self.healthy = 0, RETRY_START_S, True
            if len(rows) < self._batch:
                await asyncio.sleep(GATHER_S)
