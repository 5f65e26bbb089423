"""PostgreSQL storage: the record store (and readings) in a database several hosts can share.

``MONITOR_DATABASE_URL=postgresql://user:pass@host/db`` selects it in place of
the SQLite file; it keeps what :class:`monitor.adapters.sqlite.SqliteStore`
keeps, with the same semantics: one transaction per :meth:`PostgresStore.write`
(readings ``ON CONFLICT DO NOTHING``, the outbox, alarm events, dead letters
within their caps), so a reading is acknowledged to the broker only after the
commit that holds it. Readings go to a table partitioned by day of ``ts_ms``;
each day's partition is made in the commit that first writes into it, and
pruning drops whole days.

The store talks to the database through a small pool of psycopg 3 async
connections, each checked before use, so a restarted server is reconnected to.
Every failure of the database (refused, lost or timed-out connection, a failing
statement) is raised as :class:`DatabaseError`, an :class:`OSError`: the store
writer and the heartbeat treat it as they treat a failing SQLite disk. No
message, log line or ``repr`` carries the password.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from monitor.adapters.postgres_care import CareQueries
from monitor.adapters.postgres_records import RecordQueries, alarm_upsert
from monitor.adapters.postgres_schema import check_columns, migrate
from monitor.adapters.record_rows import (
    READING_COLUMNS,
    alarm_row,
    dead_letter_record,
    reading_insert,
    reading_row,
)
from monitor.app.ports import Batch
from monitor.domain.alarms import AUDIT_ONLY
from monitor.domain.readings import VITALS, BedRef, Reading

DAY_MS: Final = 86_400_000
_SESSION_READINGS: Final = (
    f"SELECT {READING_COLUMNS} FROM readings "  # noqa: S608 - fixed column list
    "WHERE session_id = %s AND ts_ms >= %s AND ts_ms <= %s "
    'ORDER BY ts_ms, device_id COLLATE "C", seq'
)
_PARTITIONS: Final = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'readings'::regclass"
)


Fence = Callable[[AsyncConnection[Any]], Awaitable[None]]
"""A check run first in a writing transaction; it raises (an OSError) to refuse the commit."""


class DatabaseError(OSError):
    """The PostgreSQL database failed a call; the message says why (never with the password)."""


class PostgresConfig(BaseModel):
    """Which database holds the records, and how much of refused messages it keeps."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    url: SecretStr
    dead_letters_max_rows: int = 10_000
    dead_letters_max_bytes: int = 16 * 1024 * 1024
    pool_size: int = 4
    timeout_s: float = 10.0

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, url: SecretStr) -> SecretStr:
        scheme = url.get_secret_value().partition("://")[0]
        if scheme not in ("postgresql", "postgres"):
            raise ValueError(f"expected postgresql://user:pass@host/db, not {scheme}://...")
        return url


def build(config: PostgresConfig) -> PostgresStore:
    """The store ``config`` describes (opened by :meth:`PostgresStore.open`)."""
    return PostgresStore(config)


def redacted(url: str) -> str:
    """The database a URL names, without its password: ``postgresql://user@host:port/db``."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(an unreadable URL)"
    host, port = parts.get("host", "localhost"), parts.get("port", "5432")
    return f"postgresql://{parts.get('user', '')}@{host}:{port}/{parts.get('dbname', '')}"


class PostgresStore(RecordQueries, CareQueries):
    """The record store, and the readings when they are not in InfluxDB, in PostgreSQL."""

    def __init__(self, config: PostgresConfig) -> None:
        self._config = config
        self.where = redacted(config.url.get_secret_value())
        """The database, as messages name it."""
        self.dead_letters_pruned = 0
        """Dead letters deleted to keep the table within its caps, since start-up."""
        self._days: set[int] = set()
        """Days (since the epoch) whose readings partition is known to exist."""
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self.fence: Fence | None = None
        """Run first in every writing transaction (the active monitor's lease)."""

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection of the pool (autocommit), any database failure as :class:`DatabaseError`.

        Raises:
            DatabaseError: The database refused, lost or failed the call.
        """
        assert self._pool is not None, "store is not open"
        with self._failures():
            async with self._pool.connection(timeout=self._config.timeout_s) as db:
                yield db

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection in a transaction that :attr:`fence` (if any) has let through."""
        async with self.connection() as db, db.transaction():
            if self.fence is not None:
                await self.fence(db)
            yield db

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """Any database failure within, as :class:`DatabaseError`."""
        try:
            yield
        except psycopg.Error as error:
            raise DatabaseError(f"{self.where}: {error}") from None

    async def rows(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows a query gives, as dicts by column name."""
        async with self.connection() as db, db.cursor(row_factory=dict_row) as cursor:
            await cursor.execute(query, params)
            return await cursor.fetchall()

    async def execute(self, query: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in a transaction of its own; returns the rows it changed."""
        async with self._writing() as db:
            cursor = await db.execute(query, params)
            return cursor.rowcount

    async def returning(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one writing statement in a transaction of its own; the rows it returns."""
        async with self._writing() as db, db.cursor(row_factory=dict_row) as cursor:
            await cursor.execute(query, params)
            return await cursor.fetchall()

    async def open(self) -> None:
        """Connect and bring the schema up to date (see :mod:`.postgres_schema`).

        Raises:
            DatabaseError: The database does not answer or refuses the connection.
            SchemaError: The database's schema is newer than this monitor's, or
                lacks a column of a vital (a vital added without its migration).
        """
        config = self._config
        self._pool = AsyncConnectionPool(
            config.url.get_secret_value(), min_size=1, max_size=config.pool_size, open=False,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(config.timeout_s)),
                    "application_name": "infusion-monitor"},
            timeout=config.timeout_s, check=AsyncConnectionPool.check_connection,
            name="monitor-records")
        try:
            with self._failures():
                await self._pool.open(wait=True, timeout=config.timeout_s)
            async with self.connection() as db:
                await migrate(db, self.where)
                await check_columns(db, self.where, "readings", VITALS)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close every connection."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def write(self, batch: Batch) -> int:
        """Commit a batch in one transaction; returns how many readings were new."""
        days = {stored.reading.ts_ms // DAY_MS for stored in batch.readings} - self._days
        async with self._writing() as db:
            for day in sorted(days):
                await db.execute(_partition_of(day))
            new_readings = await _insert_readings(db, batch)
            if batch.outbox:
                async with db.cursor() as cursor:
                    await cursor.executemany("INSERT INTO outbox (line) VALUES (%s)",
                                             [(line,) for line in batch.outbox])
                new_readings += len(batch.outbox)
            for event in batch.alarm_events:
                alarm = event.alarm
                if event.transition not in AUDIT_ONLY:
                    await db.execute(alarm_upsert(), alarm_row(alarm))
                await db.execute(
                    "INSERT INTO alarm_events (alarm_id, transition, at_ms, priority, state, "
                    'value, limit_value, "user", detail) VALUES (%s, %s, %s, %s, %s, %s, %s, '
                    "%s, %s)",
                    (alarm.id, event.transition, event.at_ms or alarm.updated_ms,
                     alarm.priority, alarm.state, alarm.value, alarm.limit, event.user,
                     event.detail))
            pruned = await self._add_dead_letters(db, batch) if batch.dead_letters else 0
        self._days |= days
        self.dead_letters_pruned += pruned
        return new_readings

    async def _add_dead_letters(self, db: AsyncConnection[Any], batch: Batch) -> int:
        """Insert the batch's dead letters; delete the oldest beyond the caps (how many)."""
        async with db.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO dead_letters (received_ms, topic, payload, reason, size) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(d.received_ms, d.topic, d.payload, d.reason, d.size)
                 for d in batch.dead_letters])
            await cursor.execute(
                "SELECT min(id) FROM (SELECT id, sum(octet_length(payload)) OVER (ORDER BY id "
                "DESC) AS total FROM dead_letters ORDER BY id DESC LIMIT %s) AS newest "
                "WHERE total <= %s",
                (self._config.dead_letters_max_rows, self._config.dead_letters_max_bytes))
            row = await cursor.fetchone()
            if row is None or row[0] is None:
                return 0
            await cursor.execute("DELETE FROM dead_letters WHERE id < %s", (row[0],))
            return cursor.rowcount

    async def session_readings(
        self, session_id: str, from_ms: int | None = None, to_ms: int | None = None
    ) -> list[Reading]:
        """A session's readings in device-time order (optionally from/to, Unix ms)."""
        window = (session_id, from_ms or 0, to_ms if to_ms is not None else 2**62)
        return [_reading(row) for row in await self.rows(_SESSION_READINGS, window)]

    def reading_source(self) -> PostgresReadings:
        """A source of this database's readings for another process (the what-if worker)."""
        return PostgresReadings(self._config.url)

    async def prune(self, before_ms: int) -> None:
        """Delete raw readings measured before ``before_ms``: whole days, then the rest."""
        async with self._writing() as db:
            for (name,) in await (await db.execute(_PARTITIONS)).fetchall():
                day = _day_of_partition(name)
                if day is not None and (day + 1) * DAY_MS <= before_ms:
                    await db.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                    self._days.discard(day)
            await db.execute("DELETE FROM readings WHERE ts_ms < %s", (before_ms,))

    async def mark_running(self, at_ms: int) -> int | None:
        """Note that the monitor runs; returns when it was last seen if it never stopped cleanly."""
        async with self._writing() as db:
            found = dict(await (await db.execute(
                "SELECT key, value FROM meta WHERE key IN ('running_since', 'last_seen_ms') "
                "FOR UPDATE")).fetchall())
            for key in ("running_since", "last_seen_ms"):
                await db.execute(_SET_META, (key, str(at_ms)))
        seen = found.get("last_seen_ms")
        return int(seen) if "running_since" in found and seen is not None else None

    async def mark_seen(self, at_ms: int) -> None:
        """The monitor is still running (a heartbeat)."""
        await self.execute(_SET_META, ("last_seen_ms", str(at_ms)))

    async def mark_stopped(self) -> None:
        """The monitor shut down cleanly."""
        await self.execute("DELETE FROM meta WHERE key = 'running_since'")

    async def outbox_peek(self, limit: int) -> list[tuple[int, str]]:
        """The oldest lines waiting for InfluxDB: (id, line protocol)."""
        rows = await self.rows("SELECT id, line FROM outbox ORDER BY id LIMIT %s", (limit,))
        return [(row["id"], row["line"]) for row in rows]

    async def outbox_done(self, through_id: int) -> None:
        """Lines up to ``through_id`` are in InfluxDB: forget them."""
        await self.execute("DELETE FROM outbox WHERE id <= %s", (through_id,))

    async def outbox_depth(self) -> int:
        """How many lines wait for InfluxDB."""
        [row] = await self.rows("SELECT count(*) AS depth FROM outbox")
        return int(row["depth"])

    async def save_report(self, session_id: str, at_ms: int, report: dict[str, Any]) -> None:
        """Keep a session's report (it outlives the raw readings)."""
        await self.execute(
            "INSERT INTO reports VALUES (%s, %s, %s) ON CONFLICT (session_id) DO UPDATE "
            "SET saved_ms = excluded.saved_ms, report = excluded.report",
            (session_id, at_ms, json.dumps(report)))

    async def saved_report(self, session_id: str) -> dict[str, Any] | None:
        """A kept report, if any."""
        rows = await self.rows("SELECT report FROM reports WHERE session_id = %s", (session_id,))
        return dict(json.loads(rows[0]["report"])) if rows else None

    async def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        """The newest dead letters, with the payload as text where it decodes."""
        rows = await self.rows("SELECT * FROM dead_letters ORDER BY id DESC LIMIT %s", (limit,))
        return [dead_letter_record(row) for row in rows]

    async def recent_sequences(self, since_ms: int) -> list[tuple[str, int, int]]:
        """(source, seq, ts_ms) of readings received since ``since_ms``, in arrival order.

        The source is ``site/bed/device_id`` (see :func:`monitor.pipeline.source_key`).
        """
        rows = await self.rows(
            "SELECT site || '/' || bed || '/' || device_id AS source, seq, ts_ms FROM readings "
            "WHERE received_ms >= %s ORDER BY received_ms", (since_ms,))
        return [(row["source"], row["seq"], row["ts_ms"]) for row in rows]


@dataclass(frozen=True, slots=True)
class PostgresReadings:
    """Reads a session's readings on a connection of its own (picklable, for a worker process)."""

    url: SecretStr

    def readings(self, session_id: str) -> list[Reading]:
        """A session's readings in device-time order."""
        with psycopg.connect(self.url.get_secret_value(), row_factory=dict_row) as db:
            rows = db.execute(_SESSION_READINGS, (session_id, 0, 2**62)).fetchall()
        return [_reading(row) for row in rows]


_SET_META: Final = ("INSERT INTO meta VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value")


def _reading(row: dict[str, Any]) -> Reading:
    return Reading(BedRef(row["site"], row["bed"]), row["device_id"], row["seq"], row["ts"],
                   row["ts_ms"], {v: row[v] for v in VITALS if row[v] is not None},
                   json.loads(row["flags"]) if row["flags"] else {})


async def _insert_readings(db: AsyncConnection[Any], batch: Batch) -> int:
    """Insert the batch's readings (see :func:`reading_insert`); how many were new."""
    if not batch.readings:
        return 0
    async with db.cursor() as cursor:
        await cursor.executemany(reading_insert("%s"),
                                 [reading_row(r) for r in batch.readings])
        return cursor.rowcount


def _partition_name(day: int) -> str:
    return f"readings_{datetime.fromtimestamp(day * DAY_MS / 1000, UTC):%Y%m%d}"


def _day_of_partition(name: str) -> int | None:
    try:
        start = datetime.strptime(name.removeprefix("readings_"), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(start.timestamp() * 1000) // DAY_MS


def _partition_of(day: int) -> sql.Composed:
    """The statement that makes (if need be) the partition of one day's readings."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF readings FOR VALUES FROM ({}) TO ({})"
    ).format(sql.Identifier(_partition_name(day)), sql.Literal(day * DAY_MS),
             sql.Literal((day + 1) * DAY_MS))
