"""The active monitor's lease in PostgreSQL: an advisory lock held by a connection of its own.

``pg_try_advisory_lock`` on a dedicated connection: the lock is the
connection's, so it dies with it, whether the monitor is killed (the kernel
closes its socket), its host goes (the server's TCP keep-alives, set from
``failover_s``, end the connection) or its backend is terminated. The monitor
that takes the lock then begins a term: it increments the fencing token,
kept in ``meta`` (``lease_token``), and every writing transaction of its store
first reads the token ``FOR SHARE`` and compares it with its own
(:meth:`PostgresLease.fence`). A taker's increment waits for a commit under
way, and an old holder's commit after it fails: two actives never both
write, even while an old one has yet to notice that its lease is gone.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import psycopg
from psycopg import AsyncConnection
from pydantic import SecretStr

from monitor.adapters.postgres import DatabaseError, redacted
from monitor.app.ports import LeaseLostError

LEASE_KEY: Final = 0x6C65617365
"""The advisory lock's key (``'lease'`` in ASCII; migrations lock ``'monitor'``)."""
CHECK_TIMEOUT_S: Final = 1.0
"""A lease connection that does not answer this soon counts as lost."""
_TOKEN: Final = "SELECT value FROM meta WHERE key = 'lease_token'"  # noqa: S105 - a fencing token, no secret


class PostgresLease:
    """The lease, on a connection of its own (opened when first needed, again after a loss)."""

    def __init__(self, url: SecretStr, *, instance: str, failover_s: float) -> None:
        """A lease for the database at ``url``.

        ``instance`` names this monitor to the database; ``failover_s`` bounds
        how long a dead holder's connection (and lock) outlives it on the server.
        """
        self._url = url
        self._instance = instance
        self._failover_s = failover_s
        self.where = redacted(url.get_secret_value())
        self._db: AsyncConnection[Any] | None = None
        self.token: int | None = None
        """This monitor's fencing token, once its term has begun."""
        self.holder: str | None = None

    async def _connection(self) -> AsyncConnection[Any]:
        if self._db is None or self._db.closed:
            # The server probes an idle connection after `idle` s, `count` times a second:
            # a dead holder's lock is freed within about half of failover_s.
            idle = max(1, int(self._failover_s / 4))
            probes = f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval=1 " \
                     f"-c tcp_keepalives_count=2 -c tcp_user_timeout={(idle + 2) * 1000}"
            self._db = await psycopg.AsyncConnection.connect(
                self._url.get_secret_value(), autocommit=True, connect_timeout=5,
                application_name=f"infusion-monitor-lease/{self._instance}"[:63],
                options=probes, keepalives=1, keepalives_idle=idle, keepalives_interval=1,
                keepalives_count=2)
        return self._db

    async def try_acquire(self) -> bool:
        """Take the lock if it is free.

        Raises:
            DatabaseError: The database cannot be reached (a standby tries again later).
        """
        try:
            db = await self._connection()
            row = await (await db.execute("SELECT pg_try_advisory_lock(%s)",
                                          (LEASE_KEY,))).fetchone()
            if row is not None and row[0]:
                return True
            self.holder = await self._holder(db)
        except psycopg.Error as error:
            await self.close()
            raise DatabaseError(f"{self.where}: {error}") from None
        return False

    @staticmethod
    async def _holder(db: AsyncConnection[Any]) -> str | None:
        try:
            row = await (await db.execute(
                "SELECT value FROM meta WHERE key = 'lease_holder'")).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
        return str(row[0]) if row else None

    async def begin_term(self) -> int:
        """Increment the fencing token (and name this monitor the holder); returns the token.

        Raises:
            LeaseLostError: The lease connection failed meanwhile.
        """
        try:
            db = await self._connection()
            async with db.transaction():
                row = await (await db.execute(
                    "INSERT INTO meta VALUES ('lease_token', '1') ON CONFLICT (key) DO UPDATE "
                    "SET value = (meta.value::bigint + 1)::text RETURNING value")).fetchone()
                await db.execute(
                    "INSERT INTO meta VALUES ('lease_holder', %s) ON CONFLICT (key) DO UPDATE "
                    "SET value = excluded.value", (self._instance,))
        except psycopg.Error as error:
            raise LeaseLostError(f"{self.where}: {error}") from None
        assert row is not None
        self.token = int(row[0])
        return self.token

    async def check(self) -> None:
        """Ask on the lease connection whether the token is still this term's.

        The connection answering at all means its lock is still held.

        Raises:
            LeaseLostError: The connection failed or did not answer in
                :data:`CHECK_TIMEOUT_S`, or another monitor began a term.
        """
        db = self._db
        if db is None or db.closed:
            raise LeaseLostError(f"{self.where}: the lease connection is closed")
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                row = await (await db.execute(_TOKEN)).fetchone()
        except TimeoutError:
            raise LeaseLostError(f"{self.where}: the lease connection did not answer within "
                                 f"{CHECK_TIMEOUT_S:g} s") from None
        except psycopg.Error as error:
            raise LeaseLostError(f"{self.where}: the lease connection failed: {error}") from None
        self._compare(row)

    async def fence(self, db: AsyncConnection[Any]) -> None:
        """The check that opens every writing transaction of the store.

        Raises:
            LeaseLostError: Another monitor has begun a term since this one's.
        """
        self._compare(await (await db.execute(_TOKEN + " FOR SHARE")).fetchone())

    def _compare(self, row: tuple[Any, ...] | None) -> None:
        if row is None or int(row[0]) != self.token:
            found = row[0] if row else "none"
            raise LeaseLostError(f"another monitor is active (fencing token {found}, this "
                                 f"monitor's {self.token})")

    async def close(self) -> None:
        """Close the lease connection (which lets go of the lock)."""
        if self._db is not None:
            await self._db.close()
            self._db = None
