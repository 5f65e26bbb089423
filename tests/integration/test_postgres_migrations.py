"""Both backends run the same migrations: the same numbers and names, making the same tables.

SQLite's migrations are in its dialect and PostgreSQL's in its own (see
monitor/adapters/postgres_schema.py); these tests hold them to one schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from pydantic import SecretStr

from monitor.adapters import postgres, postgres_schema, sqlite_schema
from monitor.adapters.sqlite_schema import SchemaError
from tests.servers import Postgres
from tests.servers import postgres as start_postgres

pytestmark = pytest.mark.integration

TYPES = {"INTEGER": "bigint", "TEXT": "text", "REAL": "double precision", "BLOB": "bytea"}
"""Each SQLite column type and the PostgreSQL type that stands for it."""

Table = list[tuple[str, str, bool]]
"""A table's columns in order: (name, PostgreSQL type, NOT NULL)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    with start_postgres(tmp_path_factory.mktemp("postgres")) as running:
        yield running


@pytest.fixture
def url(server: Postgres) -> str:
    return server.create_database("t" + uuid.uuid4().hex[:12])


def sqlite_tables(version: int) -> dict[str, tuple[Table, list[str]]]:
    """Each table of SQLite's schema ``version``: columns, primary key."""
    tables = {}
    for name, columns in sqlite_schema.schema(version).columns.items():
        # An INTEGER PRIMARY KEY is NOT NULL in effect, though SQLite does not say so.
        only_key = sum(1 for c in columns if c[4]) == 1
        table = [(c[0], TYPES[c[1]], bool(c[2]) or (bool(c[4]) and only_key)) for c in columns]
        key = [c[0] for c in sorted(columns, key=lambda c: c[4]) if c[4]]
        tables[name] = (table, key)
    return tables


def postgres_tables(url: str) -> dict[str, tuple[Table, list[str]]]:
    """Each table (not a partition) of the database: columns, primary key."""
    with psycopg.connect(url) as db:
        columns = db.execute(
            "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'NO' "
            "FROM information_schema.columns c JOIN pg_class t ON t.relname = c.table_name "
            "WHERE c.table_schema = 'public' AND NOT t.relispartition "
            "AND c.table_name != 'schema_migrations' ORDER BY c.table_name, c.ordinal_position"
        ).fetchall()
        keys = db.execute(
            "SELECT t.relname, a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indisprimary AND NOT t.relispartition AND t.relnamespace = "
            "'public'::regnamespace AND t.relname != 'schema_migrations' "
            "ORDER BY t.relname, array_position(i.indkey, a.attnum)"
        ).fetchall()
    tables: dict[str, tuple[Table, list[str]]] = {}
    for table, column, kind, not_null in columns:
        tables.setdefault(table, ([], []))[0].append((column, kind, not_null))
    for table, column in keys:
        tables[table][1].append(column)
    return tables


def postgres_indexes(url: str) -> set[str]:
    with psycopg.connect(url) as db:
        return {row[0] for row in db.execute(
            "SELECT indexname FROM pg_indexes i JOIN pg_class t ON t.relname = i.tablename "
            "WHERE schemaname = 'public' AND NOT t.relispartition "
            "AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'")}


def apply_up_to(url: str, version: int) -> None:
    """Migrations 1..``version``, recorded as an older monitor would have left them."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, "
                   "name TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
        for migration in postgres_schema.migrations()[:version]:
            db.execute(migration.sql)
            db.execute("INSERT INTO schema_migrations VALUES (%s, %s, 0)",
                       (migration.version, migration.name))


async def migrate(url: str) -> list[int]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as db:
        return await postgres_schema.migrate(db, "test")


def test_both_folders_hold_the_same_migrations() -> None:
    assert [(m.version, m.name) for m in postgres_schema.migrations()] == [
        (m.version, m.name) for m in sqlite_schema.migrations()]


@pytest.mark.parametrize("version", range(1, len(sqlite_schema.migrations()) + 1))
async def test_each_version_makes_the_same_tables_columns_keys_and_indexes(
    url: str, version: int
) -> None:
    apply_up_to(url, version)
    assert postgres_tables(url) == sqlite_tables(version)
    sqlite_indexes = {name for name, create in sqlite_schema.schema(version).objects
                      if create.startswith("CREATE INDEX")}
    assert postgres_indexes(url) == sqlite_indexes


async def test_a_new_database_gets_every_migration_once(url: str) -> None:
    everything = [m.version for m in postgres_schema.migrations()]
    assert await migrate(url) == everything
    assert await migrate(url) == []
    with psycopg.connect(url) as db:
        recorded = db.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [tuple(row) for row in recorded] == [
            (m.version, m.name) for m in postgres_schema.migrations()]


async def test_a_database_from_an_older_monitor_is_brought_up_to_date(url: str) -> None:
    apply_up_to(url, 2)
    assert await migrate(url) == [3, 4]


async def test_a_newer_schema_or_a_missing_vital_column_is_refused(
    server: Postgres, url: str
) -> None:
    store = postgres.build(postgres.PostgresConfig(url=SecretStr(url)))
    await store.open()
    await store.close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("ALTER TABLE readings DROP COLUMN temp")
    with pytest.raises(SchemaError, match="table readings has no column temp"):
        await store.open()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("INSERT INTO schema_migrations VALUES (99, 'from_the_future', 0)")
    with pytest.raises(SchemaError, match="version 99, newer than") as refused:
        await store.open()
    assert server.password not in str(refused.value)

