"""Active or standby: of several monitors sharing one database, only the lease holder works.

A monitor starts as a standby: it serves a ``/readyz`` that answers 503 with
the reason, does not connect to the broker, and tries the lease every
second (:meth:`ActiveStandby.wait_until_active`). Once it holds the lease, it
begins a term (:meth:`ActiveStandby.begin_term`, a new fencing token) and is
the active monitor: the service restores every open bed from the store,
connects to the broker with the monitor's client id, and raises
``monitor_failover`` if it took over from an active monitor that died.

While active, :meth:`ActiveStandby.hold` checks the lease twice a second and
raises :class:`LeaseLostError` as soon as the lease is gone or cannot be
confirmed. The service then stops at once, acknowledging nothing more, and
exits: what it held in memory (engines, queued messages, pages) belongs to a
term that is over, and a process that starts afresh, as a standby, carries
none of it. A supervisor (Docker's restart policy, Kubernetes) starts it again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Literal, NoReturn

from monitor.app.ports import Lease, LeaseLostError

log = logging.getLogger(__name__)

POLL_S: Final = 1.0
"""How often a standby tries the lease."""
CHECK_S: Final = 0.5
"""How often the active monitor confirms it still holds the lease."""


class ActiveStandby:
    """This monitor's role, and the lease that decides it."""

    def __init__(self, lease: Lease, *, poll_s: float = POLL_S, check_s: float = CHECK_S) -> None:
        self._lease = lease
        self._poll_s = poll_s
        self._check_s = check_s
        self.role: Literal["standby", "active"] = "standby"
        self.reason = "standby: trying the lease"
        """Why this monitor is not the active one (what its ``/readyz`` says)."""
        self.took_over = False
        """Another monitor held the lease when this one started: becoming active is a failover."""

    async def wait_until_active(self) -> None:
        """Try the lease every ``poll_s`` until this monitor holds it.

        A database that cannot be reached is tried again as long as it takes.
        """
        while True:
            try:
                if await self._lease.try_acquire():
                    log.info("this monitor holds the lease: becoming the active monitor")
                    return
            except OSError as error:
                reason = f"standby: the database cannot be reached ({error})"
                if reason != self.reason:
                    log.warning("%s; trying again every %g s", reason, self._poll_s)
                self.reason = reason
            else:
                reason = f"standby: {self._lease.holder or 'another monitor'} is active"
                if reason != self.reason:
                    log.info("%s; taking over when it goes", reason)
                self.took_over, self.reason = True, reason
            await asyncio.sleep(self._poll_s)

    async def begin_term(self) -> int:
        """Begin this monitor's term as the active one; returns its fencing token.

        Raises:
            LeaseLostError: The lease was lost before the term began.
        """
        token = await self._lease.begin_term()
        self.role, self.reason = "active", "active"
        log.info("active monitor, fencing token %d", token)
        return token

    async def hold(self) -> NoReturn:
        """Confirm the lease every ``check_s``, forever.

        Raises:
            LeaseLostError: It is lost, or the database does not confirm it in time.
        """
        while True:
            await asyncio.sleep(self._check_s)
            try:
                await self._lease.check()
            except LeaseLostError as error:
                self.role, self.reason = "standby", f"lease lost: {error}"
                log.critical("this monitor lost the lease (%s): it stops at once", error)
                raise
