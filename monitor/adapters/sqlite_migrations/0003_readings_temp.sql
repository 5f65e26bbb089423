-- Body temperature (vital `temp`, degrees Celsius, UCUM Cel): a column of its
-- own in readings, empty in readings stored before it.
ALTER TABLE readings ADD COLUMN temp REAL;
