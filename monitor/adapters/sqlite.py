"""SQLite storage: readings (or their outbox), sessions, alarms, audit, dead letters.

With InfluxDB as the vitals store, readings are committed here to the
``outbox`` table (as line protocol) and acknowledged; the outbox shipper
writes them on to InfluxDB and deletes them, in order, when it can.

One connection in WAL mode with full fsync (a reading is acknowledged to the
broker only after its commit), used from one worker thread so the event loop
never waits on the disk; every call goes through :meth:`SqliteStore.call`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict

from monitor.adapters.record_rows import (
    ALARM_COLUMNS,
    READING_COLUMNS,
    alarm_row,
    dead_letter_record,
    reading_insert,
    reading_row,
)
from monitor.adapters.sqlite_care import CareQueries
from monitor.adapters.sqlite_records import RecordQueries
from monitor.adapters.sqlite_schema import check_columns, migrate, migrations
from monitor.app.ports import Batch
from monitor.domain.alarms import AUDIT_ONLY
from monitor.domain.readings import VITALS, BedRef, Reading

T = TypeVar("T")

SCHEMA_VERSION: Final = migrations()[-1].version
"""The newest schema migration's number (``sqlite_migrations/``)."""




class SqliteConfig(BaseModel):
    """Where the record store's file is, and how much of refused messages it keeps."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    path: Path
    dead_letters_max_rows: int = 10_000
    dead_letters_max_bytes: int = 16 * 1024 * 1024


def build(config: SqliteConfig) -> SqliteStore:
    """The store ``config`` describes (opened by :meth:`SqliteStore.open`)."""
    return SqliteStore(config.path, dead_letters_max_rows=config.dead_letters_max_rows,
                       dead_letters_max_bytes=config.dead_letters_max_bytes)


class SqliteStore(RecordQueries, CareQueries):
    """The SQLite database under the data directory."""

    def __init__(self, path: Path, *, dead_letters_max_rows: int = 10_000,
                 dead_letters_max_bytes: int = 16 * 1024 * 1024) -> None:
        self._path = path
        self._dead_letter_caps = (dead_letters_max_rows, dead_letters_max_bytes)
        self.dead_letters_pruned = 0
        """Dead letters deleted to keep the table within its caps, since start-up."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    async def call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function(connection)`` on the store's thread."""
        def run() -> T:
            assert self._db is not None, "store is not open"
            return function(self._db)
        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def open(self) -> None:
        """Create the file if needed and bring its schema up to date (see :mod:`.sqlite_schema`).

        Raises:
            SchemaError: The database's schema is newer than this monitor's, unknown,
                or lacks a column of a vital (a vital added without its migration).
        """
        def connect() -> None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            try:
                migrate(db, self._path)
                check_columns(db, self._path, "readings", VITALS)
            except BaseException:
                db.close()
                raise
            self._db = db
        await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def close(self) -> None:
        """Close the connection and the worker thread."""
        def disconnect() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        await asyncio.get_running_loop().run_in_executor(self._executor, disconnect)
        self._executor.shutdown(wait=True)

    async def write(self, batch: Batch) -> int:
        """Commit a batch in one transaction; returns how many readings were new."""
        def write(db: sqlite3.Connection) -> int:
            stored = _write(db, batch)
            if batch.dead_letters:
                self.dead_letters_pruned += _prune_dead_letters(db, *self._dead_letter_caps)
            return stored
        return await self.call(write)

    async def session_readings(
        self, session_id: str, from_ms: int | None = None, to_ms: int | None = None
    ) -> list[Reading]:
        """A session's readings in device-time order (optionally from/to, Unix ms)."""
        return await self.call(lambda db: _session_rows(db, session_id, from_ms, to_ms))

    def reading_source(self) -> SqliteReadings:
        """A source of this database's readings for another process (the what-if worker)."""
        return SqliteReadings(self._path)

    async def mark_running(self, at_ms: int) -> int | None:
        """Note that the monitor runs; returns when it was last seen if it never stopped cleanly."""
        def mark(db: sqlite3.Connection) -> int | None:
            row = db.execute("SELECT value FROM meta WHERE key = 'running_since'").fetchone()
            seen = db.execute("SELECT value FROM meta WHERE key = 'last_seen_ms'").fetchone()
            db.execute("INSERT OR REPLACE INTO meta VALUES ('running_since', ?)", (str(at_ms),))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('last_seen_ms', ?)", (str(at_ms),))
            return int(seen[0]) if row is not None and seen is not None else None
        return await self.call(mark)

    async def mark_seen(self, at_ms: int) -> None:
        """The monitor is still running (a heartbeat)."""
        await self.call(lambda db: db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('last_seen_ms', ?)", (str(at_ms),)))

    async def mark_stopped(self) -> None:
        """The monitor shut down cleanly."""
        await self.call(lambda db: db.execute("DELETE FROM meta WHERE key = 'running_since'"))

    async def outbox_peek(self, limit: int) -> list[tuple[int, str]]:
        """The oldest lines waiting for InfluxDB: (id, line protocol)."""
        rows = await self.call(lambda db: db.execute(
            "SELECT id, line FROM outbox ORDER BY id LIMIT ?", (limit,)
        ).fetchall())
        return [(row[0], row[1]) for row in rows]

    async def outbox_done(self, through_id: int) -> None:
        """Lines up to ``through_id`` are in InfluxDB: forget them."""
        await self.call(lambda db: db.execute("DELETE FROM outbox WHERE id <= ?", (through_id,)))

    async def outbox_depth(self) -> int:
        """How many lines wait for InfluxDB."""
        depth: int = await self.call(
            lambda db: db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        )
        return depth

    async def prune(self, before_ms: int) -> None:
        """Delete raw readings measured before ``before_ms``."""
        await self.call(lambda db: db.execute("DELETE FROM readings WHERE ts_ms < ?",
                                              (before_ms,)))

    async def save_report(self, session_id: str, at_ms: int, report: dict[str, Any]) -> None:
        """Keep a session's report (it outlives the raw readings)."""
        row = (session_id, at_ms, json.dumps(report))
        await self.call(lambda db: db.execute(
            "INSERT OR REPLACE INTO reports VALUES (?, ?, ?)", row))

    async def saved_report(self, session_id: str) -> dict[str, Any] | None:
        """A kept report, if any."""
        row = await self.call(lambda db: db.execute(
            "SELECT report FROM reports WHERE session_id = ?", (session_id,)).fetchone())
        return None if row is None else dict(json.loads(row[0]))

    async def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        """The newest dead letters, with the payload as text where it decodes."""
        rows = await self.call(lambda db: db.execute(
            "SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall())
        return [dead_letter_record(row) for row in rows]

    async def recent_sequences(self, since_ms: int) -> list[tuple[str, int, int]]:
        """(source, seq, ts_ms) of readings received since ``since_ms``, in arrival order.

        The source is ``site/bed/device_id`` (see :func:`monitor.pipeline.source_key`).
        """
        rows = await self.call(lambda db: db.execute(
            "SELECT site || '/' || bed || '/' || device_id, seq, ts_ms FROM readings "
            "WHERE received_ms >= ? ORDER BY received_ms", (since_ms,)
        ).fetchall())
        return [(row[0], row[1], row[2]) for row in rows]


@dataclass(frozen=True, slots=True)
class SqliteReadings:
    """Reads a session's readings from the database file, on a read-only connection of its own.

    WAL lets it read while the monitor writes.
    """

    path: Path

    def readings(self, session_id: str) -> list[Reading]:
        """A session's readings in device-time order."""
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            return _session_rows(db, session_id, None, None)
        finally:
            db.close()


def _session_rows(
    db: sqlite3.Connection, session_id: str, from_ms: int | None, to_ms: int | None
) -> list[Reading]:
    window = (session_id, from_ms or 0, to_ms if to_ms is not None else 2**62)
    rows = db.execute(
        f"SELECT {READING_COLUMNS} FROM readings "  # noqa: S608 - fixed column list
        "WHERE session_id = ? AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms, device_id, seq",
        window,
    ).fetchall()
    return [
        Reading(BedRef(row["site"], row["bed"]), row["device_id"], row["seq"], row["ts"],
                row["ts_ms"], {v: row[v] for v in VITALS if row[v] is not None},
                json.loads(row["flags"]) if row["flags"] else {})
        for row in rows
    ]


def _prune_dead_letters(db: sqlite3.Connection, max_rows: int, max_bytes: int) -> int:
    """Delete the oldest dead letters beyond ``max_rows`` or ``max_bytes`` of payload."""
    keep_from = db.execute(
        "SELECT MIN(id) FROM (SELECT id, SUM(length(payload)) OVER (ORDER BY id DESC) AS total "
        "FROM dead_letters ORDER BY id DESC LIMIT ?) WHERE total <= ?",
        (max_rows, max_bytes)).fetchone()[0]
    if keep_from is None:
        return 0
    return db.execute("DELETE FROM dead_letters WHERE id < ?", (keep_from,)).rowcount


def _write(db: sqlite3.Connection, batch: Batch) -> int:
    before = db.total_changes
    db.execute("BEGIN")
    try:
        db.executemany(reading_insert("?"), [reading_row(r) for r in batch.readings])
        new_readings = db.total_changes - before
        db.executemany("INSERT INTO outbox (line) VALUES (?)", [(x,) for x in batch.outbox])
        new_readings += len(batch.outbox)
        for event in batch.alarm_events:
            alarm = event.alarm
            if event.transition not in AUDIT_ONLY:
                db.execute(
                    f"INSERT OR REPLACE INTO alarms ({ALARM_COLUMNS}) "  # noqa: S608
                    f"VALUES ({', '.join('?' * 19)})",
                    alarm_row(alarm),
                )
            db.execute(
                "INSERT INTO alarm_events (alarm_id, transition, at_ms, priority, state, value, "
                "limit_value, user, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (alarm.id, event.transition, event.at_ms or alarm.updated_ms, alarm.priority,
                 alarm.state, alarm.value, alarm.limit, event.user, event.detail),
            )
        db.executemany(
            "INSERT INTO dead_letters (received_ms, topic, payload, reason, size) "
            "VALUES (?, ?, ?, ?, ?)",
            [(d.received_ms, d.topic, d.payload, d.reason, d.size) for d in batch.dead_letters],
        )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # SQLite has rolled back by itself after e.g. a full disk
            db.execute("ROLLBACK")
        raise
    return new_readings
