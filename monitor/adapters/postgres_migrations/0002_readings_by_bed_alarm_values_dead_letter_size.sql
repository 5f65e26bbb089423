-- As sqlite_migrations/0002: readings are keyed by site and bed too; an alarm
-- keeps its onset and worst values; a dead letter keeps the first 4 KiB of its
-- payload and the payload's size (0 where it is unknown).
ALTER TABLE readings DROP CONSTRAINT readings_pkey;
ALTER TABLE readings ADD PRIMARY KEY (site, bed, device_id, seq, ts_ms);
ALTER TABLE alarms ADD COLUMN onset_value DOUBLE PRECISION;
ALTER TABLE alarms ADD COLUMN worst_value DOUBLE PRECISION;
UPDATE dead_letters SET payload = substr(payload, 1, 4096);
ALTER TABLE dead_letters ADD COLUMN size BIGINT NOT NULL DEFAULT 0;
