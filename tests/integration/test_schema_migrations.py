"""Versioned schema migrations of the SQLite record store, on real database files.

The fixtures are ``sqlite3 .dump``s of databases made through the store's public
methods by the monitor before versioned migrations: ``monitor-db-first-schema.sql``
by commit df8fe74 (schema version 1), ``monitor-db-before-migrations.sql`` by
commit 9ac2b24 (version 2). See ``tests/fixtures/README.md``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from monitor.adapters.sqlite import SCHEMA_VERSION, SqliteStore
from monitor.adapters.sqlite_schema import SchemaError, migrations
from monitor.api.messages import reading_record
from monitor.app.ports import Batch, DeadLetter, StoredReading
from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.readings import BedRef, Reading
from monitor.settings import SettingsError

FIXTURES = Path(__file__).parents[1] / "fixtures"
BEFORE_MIGRATIONS = FIXTURES / "monitor-db-before-migrations.sql"
FIRST_SCHEMA = FIXTURES / "monitor-db-first-schema.sql"
ROOT = Path(__file__).parents[2]


def load(dump: Path, path: Path) -> Path:
    with closing(sqlite3.connect(path)) as db:
        db.executescript(dump.read_text(encoding="utf-8"))
    return path


def recorded(path: Path) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        version: int = db.execute("PRAGMA user_version").fetchone()[0]
        return version


def every_version() -> list[tuple[int, str]]:
    return [(m.version, m.name) for m in migrations()]


def shape(path: Path) -> dict[str, Any]:
    """Every table and index as SQLite describes it (not the text that made it)."""
    with closing(sqlite3.connect(path)) as db:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' "
            "AND name NOT LIKE 'sqlite%' ORDER BY name")]
        described: dict[str, Any] = {}
        for table in tables:
            described[table] = {
                "without_rowid": db.execute(
                    "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?",
                    (table,)).fetchone()[0],
                "columns": db.execute(f"PRAGMA table_info('{table}')").fetchall(),
                "indexes": sorted(
                    (unique, origin, partial,
                     db.execute(f"PRAGMA index_info('{name}')").fetchall(),
                     None if origin != "c" else " ".join(db.execute(
                         "SELECT sql FROM sqlite_master WHERE name = ?", (name,)
                     ).fetchone()[0].split()))
                    for _, name, unique, origin, partial
                    in db.execute(f"PRAGMA index_list('{table}')")),
            }
        return described


def master_sql(path: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(
            "SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()


async def opened(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    try:
        await store.open()
    except BaseException:
        await store.close()
        raise
    return store


BED = BedRef("site-a", "bed-1")


async def read_everything(store: SqliteStore) -> dict[str, Any]:
    """Every row of the fixtures, through the store's methods."""
    session = await store.session("sess-1")
    assert session is not None
    [alarm] = await store.alarms(session_id="sess-1")
    return {
        "session": (session.bed, session.patient_ref, session.phase, session.baseline,
                    session.warnings),
        "alarm": (alarm.id, alarm.code, alarm.value, alarm.limit, alarm.onset_value,
                  alarm.worst_value),
        "history": [(h["transition"], h["value"]) for h in await store.alarm_history("alarm-1")],
        "readings": [reading_record(r) for r in await store.session_readings("sess-1")],
        "tokens": [(t["id"], t["name"], t["role"], t["hash"]) for t in await store.tokens()],
        "notes": await store.notes("sess-1"),
        "audit": await store.audit_log("sess-1"),
        "report": await store.saved_report("sess-1"),
        "outbox": await store.outbox_peek(10),
        "dead_letters": [(d["topic"], d["payload"], d["reason"], d["size"])
                         for d in await store.dead_letters(10)],
    }


def expected_rows(*, onset: float | None, worst: float | None, size: int) -> dict[str, Any]:
    return {
        "session": (BED, "p-001", "infusion", {"hr": 70.0}, ("resting BP high",)),
        "alarm": ("alarm-1", "hr_high", 130.0, 120.0, onset, worst),
        "history": [("raised", 130.0)],
        "readings": [{"ts": "2023-11-14T22:20:00.000Z", "seq": 7, "device_id": "mon-1",
                      "vitals": {"hr": 130.0, "spo2": 97.0}, "flags": {"rr": "sensor_off"}}],
        "tokens": [(1, "ward nurse", "nurse", "hash-of-token-1")],
        "notes": [{"at_ms": 1_700_000_402_000, "user": "nurse", "text": "patient calm"}],
        "audit": [{"at_ms": 1_700_000_403_000, "user": "nurse", "action": "phase",
                   "detail": {"to": "infusion"}}],
        "report": {"session": "sess-1"},
        "outbox": [(1, "vitals,site=site-a hr=130 1700000400000000000")],
        "dead_letters": [("vitals/site-a/bed-1", "{not json", "bad json", size)],
    }


async def write_more(store: SqliteStore) -> None:
    """New rows of every kind the store writes, then read back."""
    # The same device, seq and time at another bed: a reading of its own since version 2.
    other_bed = Reading(bed=BedRef("site-a", "bed-2"), device_id="mon-1", seq=7,
                        ts="2023-11-14T22:20:00.000Z", ts_ms=1_700_000_400_000,
                        vitals={"hr": 64.0})
    later = Reading(bed=BED, device_id="mon-1", seq=8, ts="2023-11-14T22:20:01.000Z",
                    ts_ms=1_700_000_401_000, vitals={"hr": 125.0, "map": 80.0})
    alarm = Alarm(id="alarm-2", bed=BED, session_id="sess-1", kind="physiological",
                  code="spo2_low", vital="spo2", priority="medium", state="active", value=88.0,
                  limit=90.0, raised_ms=1_700_000_401_000, updated_ms=1_700_000_401_000,
                  onset_value=88.0, worst_value=87.0)
    new = await store.write(Batch(
        readings=[StoredReading(other_bed, "sess-2", 1_700_000_401_050),
                  StoredReading(later, "sess-1", 1_700_000_401_050)],
        alarm_events=[AlarmEvent("raised", alarm)],
        dead_letters=[DeadLetter.of(1_700_000_402_000, "vitals/x", b"x" * 5000, "too big")]))
    assert new == 2
    assert [r.seq for r in await store.session_readings("sess-1")] == [7, 8]
    assert [r.vitals for r in await store.session_readings("sess-2")] == [{"hr": 64.0}]
    assert [(a.id, a.onset_value, a.worst_value) for a in await store.alarms(state="active")
            if a.id == "alarm-2"] == [("alarm-2", 88.0, 87.0)]
    newest = (await store.dead_letters(1))[0]
    assert (newest["topic"], newest["size"], len(newest["payload"])) == ("vitals/x", 5000, 4096)
    token_id = await store.add_token("night nurse", "nurse", "hash-2", 1_700_000_500_000)
    assert (token_id, "hash-2") in [(t["id"], t["hash"]) for t in await store.tokens()]


def test_the_migrations_are_numbered_in_order_and_schema_version_is_the_newest() -> None:
    assert [m.version for m in migrations()] == list(range(1, SCHEMA_VERSION + 1))
    assert migrations()[0].name == "initial"
    assert all(m.sql.strip() for m in migrations())


async def test_a_database_made_before_migrations_upgrades_in_place(tmp_path: Path) -> None:
    path = load(BEFORE_MIGRATIONS, tmp_path / "monitor.db")
    store = await opened(path)
    try:
        assert recorded(path) == every_version()  # 1 and 2 recorded, not run again
        assert await read_everything(store) == expected_rows(onset=128.0, worst=131.0, size=9)
        assert await store.mark_running(1_700_000_600_000) == 1_700_000_405_000  # meta kept
        await write_more(store)
    finally:
        await store.close()
    assert user_version(path) == SCHEMA_VERSION
    store = await opened(path)  # a second open finds nothing to do
    await store.close()
    assert recorded(path) == every_version()


async def test_a_database_of_the_first_schema_upgrades_in_place(tmp_path: Path) -> None:
    path = load(FIRST_SCHEMA, tmp_path / "monitor.db")
    assert "onset_value" not in str(master_sql(path))
    store = await opened(path)
    try:
        assert recorded(path) == every_version()
        assert await read_everything(store) == expected_rows(onset=None, worst=None, size=0)
        await write_more(store)
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as db:
        key = sorted((row[5], row[1]) for row in db.execute("PRAGMA table_info(readings)")
                     if row[5])
        indexes = {row[1] for row in db.execute("PRAGMA index_list(readings)")}
    assert [name for _, name in key] == ["site", "bed", "device_id", "seq", "ts_ms"]
    assert {"readings_by_session", "readings_by_received"} <= indexes


async def test_a_new_database_gets_every_migration_and_the_schema_upgraded_ones_end_with(
    tmp_path: Path,
) -> None:
    fresh = tmp_path / "fresh.db"
    await (await opened(fresh)).close()
    assert recorded(fresh) == every_version()
    assert user_version(fresh) == SCHEMA_VERSION

    from_first = load(FIRST_SCHEMA, tmp_path / "first.db")
    from_before = load(BEFORE_MIGRATIONS, tmp_path / "before.db")
    for path in (from_first, from_before):
        await (await opened(path)).close()

    # The same migrations ran: the very same CREATE statements.
    assert master_sql(from_first) == master_sql(fresh)
    # Made by the earlier monitor's own statements: the same tables, columns and indexes.
    assert shape(from_before) == shape(fresh) == shape(from_first)
    assert set(shape(fresh)) == {
        "adverse_events", "alarm_events", "alarms", "assessments", "audit", "dead_letters",
        "discharge_checklists", "infusion_events", "meta", "notes", "outbox", "readings",
        "reports", "schema_migrations", "sessions", "tokens"}
    assert shape(fresh)["readings"]["without_rowid"] == 1


async def test_a_database_newer_than_the_monitor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    await (await opened(path)).close()
    newer = SCHEMA_VERSION + 1
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("INSERT INTO schema_migrations VALUES (?, 'from_the_future', 0)", (newer,))
    before = master_sql(path)

    with pytest.raises(SchemaError) as refused:
        await opened(path)
    message = str(refused.value)
    assert isinstance(refused.value, SettingsError)  # the CLI's and service's clean exit
    assert f"version {newer}, newer than the newest this monitor knows ({SCHEMA_VERSION})" \
        in message
    assert str(path) in message
    assert master_sql(path) == before
    assert recorded(path)[-1] == (newer, "from_the_future")


def test_the_command_line_says_why_it_refuses_a_newer_database(tmp_path: Path) -> None:
    path = load(BEFORE_MIGRATIONS, tmp_path / "monitor.db")
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                   "name TEXT NOT NULL, applied_ms INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_migrations VALUES (7, 'from_the_future', 0)")
    environ = {key: value for key, value in os.environ.items() if not key.startswith("MONITOR_")}
    environ |= {"MONITOR_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", "from monitor.cli import main; main(['token', 'list'])"],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().endswith(
        f"schema is version 7, newer than the newest this monitor knows ({SCHEMA_VERSION}); "
        "run the monitor version that made it (or a newer one), or restore a backup made for "
        "this one")
    assert done.stderr.startswith(f"monitor: {path}: ")


async def test_tables_of_no_known_schema_are_refused_untouched(tmp_path: Path) -> None:
    path = load(FIRST_SCHEMA, tmp_path / "monitor.db")
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("ALTER TABLE sessions ADD COLUMN ward TEXT")
    before = master_sql(path)
    with pytest.raises(SchemaError, match=r"not those of schema version 1 or 2 .*table sessions"):
        await opened(path)
    assert master_sql(path) == before  # no schema_migrations table left behind


async def test_a_readings_table_without_a_vitals_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    await (await opened(path)).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("ALTER TABLE readings DROP COLUMN map")  # as if map were a new vital
    with pytest.raises(SchemaError, match="table readings has no column map; a new vital needs"):
        await opened(path)


async def test_an_unversioned_database_missing_tables_gets_them_as_before(tmp_path: Path) -> None:
    # The earlier monitor created its tables one statement at a time, with IF NOT EXISTS,
    # at every open: a first start cut short left some, the next open made the rest.
    path = load(FIRST_SCHEMA, tmp_path / "monitor.db")
    with closing(sqlite3.connect(path)) as db, db:
        for table in ("sessions", "tokens", "dead_letters", "outbox"):
            db.execute(f"DROP TABLE {table}")
        db.execute("DROP INDEX readings_by_received")
    store = await opened(path)
    try:
        assert recorded(path) == every_version()
        assert await store.session("sess-1") is None
        assert await store.tokens() == []
        await write_more(store)
    finally:
        await store.close()
    fresh = tmp_path / "fresh.db"
    await (await opened(fresh)).close()
    assert shape(path) == shape(fresh)


async def test_a_database_of_version_2_gains_the_temp_column_and_keeps_temperatures(
    tmp_path: Path,
) -> None:
    path = load(BEFORE_MIGRATIONS, tmp_path / "monitor.db")
    store = await opened(path)
    try:
        assert (3, "readings_temp") in recorded(path)
        before = await store.session_readings("sess-1")
        assert [r.vitals for r in before] == [{"hr": 130.0, "spo2": 97.0}]
        fever = Reading(bed=BED, device_id="mon-1", seq=9, ts="2023-11-14T22:20:02.000Z",
                        ts_ms=1_700_000_402_000, vitals={"hr": 90.0, "temp": 38.4})
        assert await store.write(Batch(readings=[
            StoredReading(fever, "sess-1", 1_700_000_402_050)])) == 1
        after = await store.session_readings("sess-1")
    finally:
        await store.close()
    assert [(r.seq, r.vitals) for r in after] == [
        (7, {"hr": 130.0, "spo2": 97.0}), (9, {"hr": 90.0, "temp": 38.4})]
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT temp FROM readings WHERE seq = 9").fetchone() == (38.4,)
