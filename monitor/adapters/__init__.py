"""The outside systems, one module each, with its configuration model and ``build()``.

- ``mqtt``: ingest from the broker (paho-mqtt), acknowledged after the commit, over
  ``mqtt_link`` (one paho client on one connection, driven by the event loop);
  ``embedded_broker``: the zero-setup broker (amqtt);
- ``sqlite`` (+ ``sqlite_records``, ``sqlite_care``, ``sqlite_schema``,
  ``sqlite_migrations/``): the record store and its versioned schema;
  ``postgres`` (+ ``postgres_records``, ``postgres_care``, ``postgres_schema``,
  ``postgres_migrations/``): the same in PostgreSQL, and ``postgres_lease``, the
  active monitor's lease; ``record_rows``: records as rows, for both;
- ``influx``: vitals in InfluxDB;
- ``pagers``: the pager registry, over ``pager_webhook``, ``pager_smtp``, ``pager_mqtt``,
  ``pager_log``.
"""

__all__ = ["embedded_broker", "influx", "mqtt", "mqtt_link", "pager_log", "pager_mqtt",
           "pager_smtp", "pager_webhook", "pagers", "postgres", "postgres_care", "postgres_lease",
           "postgres_records", "postgres_schema", "record_rows", "sqlite", "sqlite_care",
           "sqlite_records", "sqlite_schema"]
