"""Versioned schema migrations of the PostgreSQL record store.

The same migrations as SQLite's, in PostgreSQL's dialect: the numbered SQL files
in ``monitor/adapters/postgres_migrations/`` have the numbers and names of those
in ``sqlite_migrations/`` and make the same tables with the same columns, in the
same order, with the same keys (a test holds the two folders to that). SQLite's
first files cannot serve both: they use its own words (``WITHOUT ROWID``,
``INTEGER PRIMARY KEY``, ``BLOB``, ``AUTOINCREMENT``, an unquoted ``user``
column), and a shipped migration is never edited.

At open, :func:`migrate` applies every one not yet recorded in
``schema_migrations`` (version, name, applied_ms), in order, each in one
transaction that also records it. Each transaction first takes an advisory
lock, so monitors started at once on one database migrate it once. A database
that records a version newer than any migration here is refused
(:class:`~monitor.adapters.sqlite_schema.SchemaError`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from typing import Any, Final

from psycopg import AsyncConnection

from monitor.adapters.sqlite_schema import Migration, SchemaError, read_migrations

log = logging.getLogger(__name__)

_MIGRATIONS: Final = "monitor.adapters.postgres_migrations"
MIGRATION_LOCK: Final = 0x6D6F6E69746F72
"""The advisory lock key the migrating transaction holds ("monitor" in hex)."""


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """Every PostgreSQL migration shipped with the package, in order."""
    return read_migrations(_MIGRATIONS)


async def migrate(db: AsyncConnection[Any], where: str) -> list[int]:
    """Bring the database up to the newest migration; returns the versions applied now.

    ``db`` is in autocommit mode; ``where`` names the database in messages
    (without its password).

    Raises:
        SchemaError: The database records a version newer than any migration here.
    """
    known = migrations()
    applied = []
    for migration in known:
        async with db.transaction():
            current = await _lock_and_read_version(db)
            if current > len(known):
                raise SchemaError(
                    f"{where}: the database's schema is version {current}, newer than the "
                    f"newest this monitor knows ({len(known)}); run the monitor version that "
                    "made it (or a newer one), or restore a backup made for this one")
            if current >= migration.version:
                continue
            await db.execute(migration.sql)
            await db.execute(
                "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (%s, %s, %s)",
                (migration.version, migration.name, time.time_ns() // 1_000_000))
        log.info("%s: schema migration %04d_%s applied", where, migration.version, migration.name)
        applied.append(migration.version)
    return applied


async def check_columns(
    db: AsyncConnection[Any], where: str, table: str, columns: Iterable[str]
) -> None:
    """Refuse a table that lacks a column the code writes (a new vital without its migration).

    Raises:
        SchemaError: Some of ``columns`` are not in ``table``.
    """
    cursor = await db.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s", (table,))
    have = {str(row[0]) for row in await cursor.fetchall()}
    missing = [column for column in columns if column not in have]
    if missing:
        raise SchemaError(
            f"{where}: table {table} has no column {', '.join(missing)}; a new vital needs a "
            "numbered migration adding its column, in sqlite_migrations/ and "
            "postgres_migrations/ alike (see monitor/adapters/postgres_schema.py)")


async def _lock_and_read_version(db: AsyncConnection[Any]) -> int:
    """Hold the migration lock for this transaction; the newest version recorded (0: none)."""
    await db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
    await db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
                     "name TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
    cursor = await db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0
