"""The outside systems, one module each, with its configuration model and ``build()``.

- ``mqtt``: ingest from the broker (paho-mqtt), acknowledged after the commit, over
  ``mqtt_link`` (one paho client on one connection, driven by the event loop);
  ``embedded_broker``: the zero-setup broker (amqtt);
- ``sqlite`` (+ ``sqlite_records``, ``sqlite_schema``, ``sqlite_migrations/``):
  the record store and its versioned schema;
- ``influx``: vitals in InfluxDB;
- ``pagers``: the pager registry, over ``pager_webhook``, ``pager_smtp``, ``pager_mqtt``.
"""

__all__ = ["embedded_broker", "influx", "mqtt", "mqtt_link", "pager_mqtt", "pager_smtp",
           "pager_webhook", "pagers", "sqlite", "sqlite_records", "sqlite_schema"]
