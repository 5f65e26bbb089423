"""What the monitor stores in, built from the settings.

The record store, InfluxDB, reports, the lease several monitors share, and
the lock that keeps a data directory to one monitor.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from monitor.adapters import influx, postgres, sqlite
from monitor.adapters.influx import InfluxVitals
from monitor.adapters.postgres import PostgresStore
from monitor.adapters.postgres_lease import PostgresLease
from monitor.adapters.sqlite import SqliteStore
from monitor.api.messages import session_message
from monitor.app.ports import VitalsStore
from monitor.app.reports import Reports
from monitor.app.session_service import SessionBook
from monitor.app.what_if import WhatIfWorker
from monitor.settings import Settings, SettingsError


def record_store(settings: Settings) -> SqliteStore | PostgresStore:
    """The record store: PostgreSQL if the settings name a database, else SQLite in the data dir.

    Readings not sent on to InfluxDB are kept in it too.

    Raises:
        SettingsError: The vitals store named is not where the readings would go.
    """
    caps = {"dead_letters_max_rows": settings.dead_letters_max_rows,
            "dead_letters_max_bytes": settings.dead_letters_max_bytes}
    if settings.database_url is None:
        if settings.store == "postgres":
            raise SettingsError("store = 'postgres' keeps the vitals in the PostgreSQL record "
                                "store: set database_url (MONITOR_DATABASE_URL) too")
        return sqlite.build(sqlite.SqliteConfig(path=settings.data_dir / "monitor.db", **caps))
    if settings.store == "sqlite":
        raise SettingsError("database_url puts the record store in PostgreSQL, and the vitals "
                            "are stored with it or in InfluxDB: set store (MONITOR_STORE) to "
                            "'postgres' or 'influx'")
    try:
        config = postgres.PostgresConfig(url=settings.database_url, **caps)
    except ValidationError as error:
        raise SettingsError(f"database_url: {error.errors()[0]['msg']}") from None
    return postgres.build(config)


def influx_store(settings: Settings) -> InfluxVitals | None:
    """The InfluxDB vitals store, if the settings put the vitals there."""
    if settings.store != "influx":
        return None
    return influx.build(influx.InfluxConfig(
        url=settings.influx_url, database=settings.influx_db, token=settings.influx_token,
        username=settings.influx_username, password=settings.influx_password))


def build_reports(store: SqliteStore | PostgresStore, vitals: VitalsStore,
                  sessions: SessionBook) -> Reports:
    """Reports over the stores, in the API's session shape, with a what-if worker of their own."""
    return Reports(store, vitals, sessions, WhatIfWorker(vitals.reading_source()),
                   session_message)


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory for one monitor: a second one there is refused before it writes.

    Raises:
        SettingsError: Another monitor holds it (its pid is named).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "monitor.lock").open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process"
            raise SettingsError(
                f"another monitor ({holder}) is running on {data_dir}: stop it first, or give "
                "this one its own MONITOR_DATA_DIR and MONITOR_HTTP_PORT") from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lease_of(settings: Settings) -> PostgresLease | None:
    """The lease several monitors on one PostgreSQL share; None on SQLite (a single monitor)."""
    if settings.database_url is None:
        return None
    return PostgresLease(settings.database_url, instance=settings.instance,
                         failover_s=settings.failover_s)
