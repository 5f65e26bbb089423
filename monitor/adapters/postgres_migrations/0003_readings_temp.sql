-- As sqlite_migrations/0003: body temperature (vital `temp`, Cel).
ALTER TABLE readings ADD COLUMN temp DOUBLE PRECISION;
