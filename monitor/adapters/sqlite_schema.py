"""Versioned schema migrations of the SQLite record store.

The schema is the numbered SQL files in ``monitor/adapters/sqlite_migrations/``
(``0001_initial.sql``, ``0002_....sql``, ...), shipped as package data. At open,
:func:`migrate` applies every one not yet recorded in ``schema_migrations``
(version, name, applied_ms), in order, each in one transaction that also
records it and sets ``PRAGMA user_version`` to its number (monitors from before
versioned migrations read only that, and refuse a database newer than they are).

A shipped migration is never edited: a change of schema is a new file. Adding a
vital sign to ``monitor.domain.readings.VITALS`` takes a migration adding its
column (``ALTER TABLE readings ADD COLUMN <vital> REAL;``); until there is one,
:func:`check_columns` refuses to open the store rather than let every commit fail.

Databases made before versioned migrations have no ``schema_migrations`` table
and were made by one of two schemas: version 1 (the first, ``PRAGMA
user_version`` 1) or version 2 (its in-place upgrade, what the monitor created
until versioned migrations). Which one is found from the tables themselves, not
from ``user_version``: the columns of each of our tables there, as ``PRAGMA
table_info`` gives them (name, type, NOT NULL, default, primary-key position,
in order), are compared with those migrations 1..N make in a scratch in-memory
database, for N = 2, then 1. Versions 2 and 1 differ in ``readings``' primary
key (``site, bed`` first), ``alarms.onset_value``/``worst_value`` and
``dead_letters.size``. The versions of the matching schema are recorded as
applied without running them, and the later ones run. Tables of no migration
(e.g. ``sqlite_stat1``) are not compared; a table or index of the matching
schema that is missing is created, as the earlier monitor's ``CREATE ... IF NOT
EXISTS`` at every open did. A file with none of our tables is new: every
migration runs. A database whose tables match neither schema is refused, naming
the first table that differs; so is one that records a version newer than any
migration here (:class:`SchemaError`, a :class:`~monitor.settings.SettingsError`:
the monitor stops at start with its message).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from monitor.settings import SettingsError

log = logging.getLogger(__name__)

_MIGRATIONS: Final = "monitor.adapters.sqlite_migrations"
"""The folder of migrations, as a (namespace) package: read with importlib.resources."""
_FILE_NAME: Final = re.compile(r"(\d{4})_(\w+)\.sql")
UNVERSIONED_SCHEMAS: Final = (1, 2)
"""The versions a database made before versioned migrations can be at."""

Columns = tuple[tuple[str, str, int, str | None, int], ...]
"""A table's columns in order: (name, type, not null, default, primary-key position)."""


class SchemaError(SettingsError):
    """The database under ``data_dir`` has a schema this monitor must not write into."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file of ``sqlite_migrations/``."""

    version: int
    name: str
    """The file's name after its number, without ``.sql``."""
    sql: str


def read_migrations(package: str) -> tuple[Migration, ...]:
    """The numbered SQL files of ``package``, in order (numbered 1, 2, ... without gaps)."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is not None:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{package}: migrations are not numbered 1, 2, ...: "
                           f"{[m.version for m in found]}")
    return tuple(found)


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """Every SQLite migration shipped with the package, in order."""
    return read_migrations(_MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path) -> list[int]:
    """Bring the database up to the newest migration; returns the versions applied now.

    ``db`` is in autocommit mode (``isolation_level=None``); ``path`` names the
    database in error messages.

    Raises:
        SchemaError: The database records a version newer than any migration
            here, or was made before versioned migrations by a schema that is
            neither version 1 nor 2.
    """
    known = migrations()
    with _transaction(db):
        current = _recorded_version(db)
        if current is None:
            current = _adopt_unversioned(db, path)
        if current > len(known):
            raise SchemaError(
                f"{path}: the database's schema is version {current}, newer than the newest "
                f"this monitor knows ({len(known)}); run the monitor version that made it "
                "(or a newer one), or restore a backup made for this one")
    applied = []
    for migration in known[current:]:
        with _transaction(db):
            if (_recorded_version(db) or 0) >= migration.version:
                continue  # another process (a `monitor token` command) was quicker
            for statement in _statements(migration.sql):
                db.execute(statement)
            _record(db, [migration])
        log.info("%s: schema migration %04d_%s applied", path, migration.version, migration.name)
        applied.append(migration.version)
    return applied


def check_columns(db: sqlite3.Connection, path: Path, table: str, columns: Iterable[str]) -> None:
    """Refuse a table that lacks a column the code writes (a new vital without its migration).

    Raises:
        SchemaError: Some of ``columns`` are not in ``table``.
    """
    have = {column[0] for column in _columns(db, table)}
    missing = [column for column in columns if column not in have]
    if missing:
        raise SchemaError(
            f"{path}: table {table} has no column {', '.join(missing)}; a new vital "
            "needs a numbered migration adding its column (see monitor/adapters/sqlite_schema.py)")


@dataclass(frozen=True, slots=True)
class Schema:
    """The schema migrations 1..N make, read from a scratch in-memory database."""

    columns: dict[str, Columns]
    """Every table's columns, by table."""
    objects: tuple[tuple[str, str], ...]
    """(name, CREATE statement) of every table, then every index."""


@functools.cache
def schema(version: int) -> Schema:
    """The schema migrations 1..``version`` make."""
    scratch = sqlite3.connect(":memory:")
    try:
        for migration in migrations()[:version]:
            scratch.executescript(migration.sql)
        objects = scratch.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE "
            "'sqlite\\_%' ESCAPE '\\' ORDER BY type = 'index', rowid").fetchall()
        return Schema(_all_columns(scratch), tuple((str(n), str(sql)) for n, sql in objects))
    finally:
        scratch.close()


def _adopt_unversioned(db: sqlite3.Connection, path: Path) -> int:
    """Create ``schema_migrations``; record the version an older monitor's tables are at."""
    names = {table for v in UNVERSIONED_SCHEMAS for table in schema(v).columns}
    ours = {table: columns for table, columns in _all_columns(db).items() if table in names}
    version = 0  # none of our tables: a new (or empty) file
    if ours:
        differences = {v: _differences(ours, schema(v).columns) for v in UNVERSIONED_SCHEMAS}
        version = next((v for v in reversed(UNVERSIONED_SCHEMAS) if not differences[v]), -1)
        if version < 0:
            closest = min(reversed(UNVERSIONED_SCHEMAS), key=lambda v: len(differences[v]))
            raise SchemaError(
                f"{path}: the database has no schema_migrations table and its tables are not "
                f"those of schema version {' or '.join(map(str, UNVERSIONED_SCHEMAS))} (against "
                f"version {closest}: {'; '.join(differences[closest])}); restore a backup or "
                "move the file aside")
        # The monitor before versioned migrations ran CREATE ... IF NOT EXISTS at every
        # open: a table or index it would have added is added the same way.
        present = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        for name, sql in schema(version).objects:
            if name not in present:
                db.execute(sql)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
               " applied_ms INTEGER NOT NULL)")
    _record(db, migrations()[:version])
    if version:
        log.info("%s: tables made before versioned migrations are schema version %d; recorded",
                 path, version)
    return version


def _differences(tables: dict[str, Columns], expected: dict[str, Columns]) -> list[str]:
    """What keeps ``tables`` from having the ``expected`` columns, table by table."""
    found = []
    for table, columns in tables.items():
        if table not in expected:
            found.append(f"it has no table {table}")
        elif columns != expected[table]:
            found.append(
                f"table {table} has columns {[c[0] for c in columns]} (primary key "
                f"{_key(columns)}) where it has {[c[0] for c in expected[table]]} (primary key "
                f"{_key(expected[table])}), or their types differ")
    return found


def _key(columns: Columns) -> list[str]:
    return [column[0] for column in sorted(columns, key=lambda c: c[4]) if column[4]]


def _record(db: sqlite3.Connection, done: Iterable[Migration]) -> None:
    now_ms = time.time_ns() // 1_000_000
    for migration in done:
        db.execute("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
                   (migration.version, migration.name, now_ms))
        db.execute(f"PRAGMA user_version = {int(migration.version)}")


def _recorded_version(db: sqlite3.Connection) -> int | None:
    """The newest version recorded; None if there is no ``schema_migrations`` table."""
    if not _columns(db, "schema_migrations"):
        return None
    newest: int | None = db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    return newest or 0


def _all_columns(db: sqlite3.Connection) -> dict[str, Columns]:
    names = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' AND name != 'schema_migrations'")]
    return {name: _columns(db, name) for name in names}


def _columns(db: sqlite3.Connection, table: str) -> Columns:
    return tuple(
        (str(name), str(kind).upper(), int(notnull), default, int(key))
        for _, name, kind, notnull, default, key
        in db.execute("SELECT * FROM pragma_table_info(?)", (table,))
    )


def _statements(sql: str) -> Iterator[str]:
    """The statements of a script, one by one (``execute`` takes one at a time)."""
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` (other processes wait) ... ``COMMIT``, rolled back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
