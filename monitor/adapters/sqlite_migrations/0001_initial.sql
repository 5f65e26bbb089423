-- The first schema, as the monitor created it before versioned migrations
-- (commit df8fe74, PRAGMA user_version 1).
CREATE TABLE readings (
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,
    ts TEXT NOT NULL, received_ms INTEGER NOT NULL,
    site TEXT NOT NULL, bed TEXT NOT NULL, session_id TEXT,
    hr REAL, spo2 REAL, rr REAL, etco2 REAL, sbp REAL, dbp REAL, map REAL, flags TEXT,
    PRIMARY KEY (device_id, seq, ts_ms)
) WITHOUT ROWID;
CREATE INDEX readings_by_session ON readings (session_id, ts_ms);
CREATE INDEX readings_by_received ON readings (received_ms);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, bed TEXT NOT NULL, patient_ref TEXT NOT NULL,
    phase TEXT NOT NULL, phase_started TEXT NOT NULL, profile TEXT NOT NULL,
    baseline TEXT NOT NULL, warnings TEXT NOT NULL, overrides TEXT NOT NULL
);
CREATE INDEX sessions_open ON sessions (phase) WHERE phase != 'ended';
CREATE TABLE alarms (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, bed TEXT NOT NULL, session_id TEXT,
    kind TEXT NOT NULL, code TEXT NOT NULL, vital TEXT, priority TEXT NOT NULL,
    state TEXT NOT NULL, value REAL, limit_value REAL,
    raised_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    condition_present INTEGER NOT NULL, acknowledged_by TEXT, acknowledged_ms INTEGER,
    paused_until_ms INTEGER
);
CREATE INDEX alarms_by_state ON alarms (state);
CREATE TABLE alarm_events (
    id INTEGER PRIMARY KEY, alarm_id TEXT NOT NULL, transition TEXT NOT NULL,
    at_ms INTEGER NOT NULL, priority TEXT NOT NULL, state TEXT NOT NULL,
    value REAL, limit_value REAL, user TEXT, detail TEXT
);
CREATE INDEX alarm_events_by_alarm ON alarm_events (alarm_id, id);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL,
    session_id TEXT, detail TEXT NOT NULL
);
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL, revoked_ms INTEGER
);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
    user TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX notes_by_session ON notes (session_id, id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL);
CREATE TABLE reports (
    session_id TEXT PRIMARY KEY, saved_ms INTEGER NOT NULL, report TEXT NOT NULL
);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, reason TEXT NOT NULL
);
