"""The vitals time-series port: SQLite (``readings``) or InfluxDB."""

from __future__ import annotations

from typing import Any, Protocol

from monitor.app.what_if import ReadingSource


class VitalsStore(Protocol):
    """Where a session's readings are read back from, and pruned."""

    async def session_readings(
        self, session_id: str, from_ms: int | None = None, to_ms: int | None = None
    ) -> list[dict[str, Any]]:
        """A session's readings in time order: ``ts``, ``seq``, ``device_id``, ``vitals``."""

    async def prune(self, before_ms: int) -> None:
        """Delete raw readings measured before ``before_ms``."""

    def reading_source(self) -> ReadingSource:
        """The same readings for another process to read on its own connection."""
