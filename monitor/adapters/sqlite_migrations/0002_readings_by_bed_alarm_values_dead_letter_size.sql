-- A reading is the same reading only from the same bed (a device id is not an
-- identity): readings are keyed by site and bed too. An alarm keeps its onset
-- and worst values. A dead letter keeps the first 4 KiB of its payload and the
-- payload's size (old ones are cut down; their size is unknown: 0).
-- (What the monitor's PRAGMA user_version 1 -> 2 upgrade did before versioned
-- migrations.)
CREATE TABLE readings_v2 (
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,
    ts TEXT NOT NULL, received_ms INTEGER NOT NULL,
    site TEXT NOT NULL, bed TEXT NOT NULL, session_id TEXT,
    hr REAL, spo2 REAL, rr REAL, etco2 REAL, sbp REAL, dbp REAL, map REAL, flags TEXT,
    PRIMARY KEY (site, bed, device_id, seq, ts_ms)
) WITHOUT ROWID;
INSERT INTO readings_v2 SELECT * FROM readings;
DROP TABLE readings;
ALTER TABLE readings_v2 RENAME TO readings;
-- Dropping the old table dropped its indexes.
CREATE INDEX readings_by_session ON readings (session_id, ts_ms);
CREATE INDEX readings_by_received ON readings (received_ms);
ALTER TABLE alarms ADD COLUMN onset_value REAL;
ALTER TABLE alarms ADD COLUMN worst_value REAL;
UPDATE dead_letters SET payload = substr(payload, 1, 4096);
ALTER TABLE dead_letters ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
