"""A database made by the schema before version 2 upgrades in place, losing nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monitor.adapters.sqlite import SCHEMA_VERSION, SqliteStore

VERSION_1 = """
CREATE TABLE readings (
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,
    ts TEXT NOT NULL, received_ms INTEGER NOT NULL,
    site TEXT NOT NULL, bed TEXT NOT NULL, session_id TEXT,
    hr REAL, spo2 REAL, rr REAL, etco2 REAL, sbp REAL, dbp REAL, map REAL, flags TEXT,
    PRIMARY KEY (device_id, seq, ts_ms)
) WITHOUT ROWID;
CREATE TABLE alarms (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, bed TEXT NOT NULL, session_id TEXT,
    kind TEXT NOT NULL, code TEXT NOT NULL, vital TEXT, priority TEXT NOT NULL,
    state TEXT NOT NULL, value REAL, limit_value REAL,
    raised_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    condition_present INTEGER NOT NULL, acknowledged_by TEXT, acknowledged_ms INTEGER,
    paused_until_ms INTEGER
);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, reason TEXT NOT NULL
);
INSERT INTO dead_letters VALUES (1, 1000, 't', zeroblob(100000), 'too big');
INSERT INTO readings VALUES ('mon-1', 7, 1000, '1970-01-01T00:00:01.000Z', 1000, 's', 'b',
    'sess', 72, 98, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO alarms VALUES ('a1', 's', 'b', 'sess', 'physiological', 'hr_high', 'hr', 'high',
    'active', 130, 120, 1000, 1000, 1, NULL, NULL, NULL);
PRAGMA user_version = 1;
"""


async def test_a_version_1_database_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_1)
    store = SqliteStore(path)
    await store.open()
    try:
        [reading] = await store.session_readings("sess")
        [alarm] = await store.alarms(session_id="sess")
    finally:
        await store.close()
    assert (reading.seq, reading.vitals) == (7, {"hr": 72.0, "spo2": 98.0})
    assert (alarm.code, alarm.value, alarm.onset_value) == ("hr_high", 130.0, None)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT length(payload) FROM dead_letters").fetchone()[0] == 4096
        key = sorted((row[5], row[1]) for row in db.execute("PRAGMA table_info(readings)")
                     if row[5])
    assert [name for _, name in key] == ["site", "bed", "device_id", "seq", "ts_ms"]
