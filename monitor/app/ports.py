"""What the application needs from the outside world, as interfaces (ports).

The adapters in :mod:`monitor.adapters` and :mod:`monitor.api` implement
these; the use cases in :mod:`monitor.app` see only these, never an adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.readings import DeviceStatus, Reading
from monitor.domain.sessions import Session


@dataclass(frozen=True, slots=True)
class AckToken:
    """What acknowledging a message needs: its id on the connection it came on."""

    connection: int
    mid: int
    qos: int


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message taken from the broker, not yet acknowledged."""

    topic: str
    payload: bytes
    received_ms: int
    ack: AckToken


class BoardFeed(Protocol):
    """The board's screens (the WebSocket hub): told every change at once; never blocks."""

    def reading(self, reading: Reading, session_id: str | None, received_ms: int) -> None:
        """An accepted reading."""

    def alarm(self, alarm: Alarm, transition: str | None) -> None:
        """An alarm as it stands after ``transition``."""

    def device(self, status: DeviceStatus, received_ms: int) -> None:
        """A device went online or offline."""

    def session(self, session: Session, status: Mapping[str, Any] | None) -> None:
        """A session changed; ``status`` adds its discharge readiness and pause."""


class AlarmListener(Protocol):
    """Something that acts on alarm transitions (the pager)."""

    def notify(self, event: AlarmEvent) -> None:
        """Take note of one transition; must not block."""


class PageDeliveryError(Exception):
    """One attempt to deliver a page failed; the message says why."""


class PagerTarget(Protocol):
    """Something that can carry a page to a person (webhook, SMTP, MQTT topic)."""

    name: str

    async def send(self, page: dict[str, Any]) -> None:
        """Deliver one page, or raise :class:`PageDeliveryError`."""


class StoreUnavailableError(Exception):
    """The time-series store could not take or give data now; the message says why."""


class VitalsSink(Protocol):
    """Where the outbox ships readings to (InfluxDB), as line protocol."""

    async def write_lines(self, lines: Sequence[str]) -> None:
        """Write the lines, or raise :class:`StoreUnavailableError`."""


class ReadingSource(Protocol):
    """Where a worker process reads stored readings (picklable; opens its own connection)."""

    def readings(self, session_id: str) -> list[dict[str, Any]]:
        """A session's readings as the vitals API returns them."""


class VitalsStore(Protocol):
    """Where a session's readings are read back from, and pruned (SQLite or InfluxDB)."""

    async def session_readings(
        self, session_id: str, from_ms: int | None = None, to_ms: int | None = None
    ) -> list[dict[str, Any]]:
        """A session's readings in time order: ``ts``, ``seq``, ``device_id``, ``vitals``."""

    async def prune(self, before_ms: int) -> None:
        """Delete raw readings measured before ``before_ms``."""

    def reading_source(self) -> ReadingSource:
        """The same readings for another process to read on its own connection."""
