"""The infusion-session monitor: MQTT ingest, clinical alarms, paging, a live board, review.

Layers, each importing only those below it (``tests/unit/test_layers.py``
holds them to it):

- :mod:`monitor.domain`: the clinical rules, pure (no I/O, time passed in);
- :mod:`monitor.app`: the use cases, and in :mod:`monitor.app.ports` the
  interfaces they need from the outside world;
- :mod:`monitor.adapters` (MQTT, SQLite, PostgreSQL, InfluxDB, pagers) and
  :mod:`monitor.api` (HTTP and WebSocket): the outside world;
- :mod:`monitor.service` (the :class:`~monitor.service.Monitor` that wires
  and runs it all), :mod:`monitor.stores` (the stores and the lease from the
  settings), :mod:`monitor.cli`, :mod:`monitor.demo`,
  :mod:`monitor.settings`, :mod:`monitor.logs`.
"""

__all__ = ["adapters", "api", "app", "cli", "demo", "domain", "logs", "service", "settings",
           "stores"]
