"""What the application needs from the outside world, as interfaces (ports).

The adapters in :mod:`monitor.adapters` and :mod:`monitor.api` implement
these; the use cases in :mod:`monitor.app` see only these, never an adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.assessments import AdverseEvent, Assessment
from monitor.domain.discharge import DischargeChecklist
from monitor.domain.infusion import InfusionEvent
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


@dataclass(frozen=True, slots=True)
class StoredReading:
    """An accepted reading as it is written: with its session and arrival time."""

    reading: Reading
    session_id: str | None
    received_ms: int


DEAD_LETTER_KEEP_BYTES: Final = 4096
"""How much of a refused payload is kept: enough to see what it was, never a disk's worth."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be accepted, kept with the reason.

    Only the first :data:`DEAD_LETTER_KEEP_BYTES` of its payload are kept, with
    the payload's whole size.
    """

    received_ms: int
    topic: str
    payload: bytes
    reason: str
    size: int

    @classmethod
    def of(cls, received_ms: int, topic: str, payload: bytes, reason: str) -> DeadLetter:
        """A dead letter of a whole message (cut down to what is kept)."""
        return cls(received_ms, topic[:512], payload[:DEAD_LETTER_KEEP_BYTES], reason[:1000],
                   len(payload))


@dataclass(slots=True)
class Batch:
    """What one commit writes."""

    readings: list[StoredReading] = field(default_factory=list)
    outbox: list[str] = field(default_factory=list)
    alarm_events: list[AlarmEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.readings) + len(self.outbox) + len(self.alarm_events)
                + len(self.dead_letters))


class RecordStore(Protocol):
    """The clinical record (SQLite, or PostgreSQL).

    Sessions, alarms and their history, audit, notes, tokens, reports, dead
    letters, the outbox, and the commit that stores readings with them.
    """

    @property
    def dead_letters_pruned(self) -> int:
        """Dead letters pruned for the caps since start-up."""

    async def write(self, batch: Batch) -> int:
        """Commit a batch in one transaction; returns how many readings were new."""

    async def save_session(self, session: Session) -> None:
        """Insert or update a session."""

    async def session(self, session_id: str) -> Session | None:
        """One session by id."""

    async def sessions(self, *, open_only: bool = False) -> list[Session]:
        """Every session (or only those not ended), oldest first."""

    async def alarms(
        self, state: str | None = None, session_id: str | None = None
    ) -> list[Alarm]:
        """Alarms, newest first; ``state="open"`` for every one not cleared."""

    async def alarm_history(self, alarm_id: str) -> list[dict[str, Any]]:
        """Every transition of one alarm, oldest first."""

    async def audit(
        self, at_ms: int, user: str, action: str, session_id: str | None, detail: dict[str, Any]
    ) -> None:
        """Record who changed what, and when."""

    async def audit_log(self, session_id: str) -> list[dict[str, Any]]:
        """A session's audit entries, oldest first."""

    async def add_note(self, session_id: str, at_ms: int, user: str, text: str) -> None:
        """Add a note to a session."""

    async def notes(self, session_id: str) -> list[dict[str, Any]]:
        """A session's notes, oldest first."""

    async def add_infusion_event(self, session_id: str, event: InfusionEvent) -> None:
        """Record what was done to the pump."""

    async def infusion_events(self, session_id: str) -> list[InfusionEvent]:
        """A session's infusion events, oldest first."""

    async def add_assessment(self, session_id: str, assessment: Assessment) -> None:
        """Record a score."""

    async def assessments(self, session_id: str) -> list[Assessment]:
        """A session's scores, oldest first."""

    async def add_adverse_event(self, session_id: str, event: AdverseEvent) -> int:
        """Record an adverse event; returns its id."""

    async def adverse_events(self, session_id: str) -> list[AdverseEvent]:
        """A session's adverse events, oldest first."""

    async def save_checklist(self, session_id: str, checklist: DischargeChecklist) -> None:
        """Keep the signed fit-to-leave checklist."""

    async def checklist(self, session_id: str) -> DischargeChecklist | None:
        """The session's signed checklist, if any."""

    async def patient_session_ids(self, patient_ref: str) -> list[str]:
        """Ids of the patient's sessions, oldest first."""

    async def add_token(self, name: str, role: str, hashed: str, at_ms: int) -> int:
        """Store a token's hash; returns its id."""

    async def tokens(self) -> list[dict[str, Any]]:
        """Every token in force."""

    async def revoke_token(self, token_id: int, at_ms: int) -> str | None:
        """Revoke a token; returns its hash, or None if there was none in force."""

    async def save_report(self, session_id: str, at_ms: int, report: dict[str, Any]) -> None:
        """Keep a session's report (it outlives the raw readings)."""

    async def saved_report(self, session_id: str) -> dict[str, Any] | None:
        """A kept report, if any."""

    async def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        """The newest dead letters."""

    async def outbox_peek(self, limit: int) -> list[tuple[int, str]]:
        """The oldest lines waiting for the vitals store: (id, line protocol)."""

    async def outbox_done(self, through_id: int) -> None:
        """Lines up to ``through_id`` are shipped: forget them."""

    async def outbox_depth(self) -> int:
        """How many lines wait to be shipped."""

    async def recent_sequences(self, since_ms: int) -> list[tuple[str, int, int]]:
        """(source, seq, ts_ms) of readings received since ``since_ms``, in arrival order."""

    async def mark_seen(self, at_ms: int) -> None:
        """The monitor is still running (a heartbeat)."""


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

    def readings(self, session_id: str) -> list[Reading]:
        """A session's readings in device-time order."""


class VitalsStore(Protocol):
    """Where a session's readings are read back from, and pruned (SQLite or InfluxDB)."""

    async def session_readings(
        self, session_id: str, from_ms: int | None = None, to_ms: int | None = None
    ) -> list[Reading]:
        """A session's readings in device-time order."""

    async def prune(self, before_ms: int) -> None:
        """Delete raw readings measured before ``before_ms``."""

    def reading_source(self) -> ReadingSource:
        """The same readings for another process to read on its own connection."""


class LeaseLostError(ConnectionError):
    """This monitor does not hold the lease (any more), or cannot tell that it does.

    An :class:`OSError`, so a commit the fencing check refuses fails like any
    other: nothing of it is acknowledged.
    """


class Lease(Protocol):
    """The one lease that makes a monitor the active one, among several sharing one database."""

    holder: str | None
    """Who held it at the last attempt that failed (as the holder named itself), if known."""

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True if this monitor holds it now."""

    async def begin_term(self) -> int:
        """Once held: a new fencing token, which every later commit of an old holder fails on."""

    async def check(self) -> None:
        """Return if the lease is still held under this term's token, else raise LeaseLostError."""

    async def close(self) -> None:
        """Let go of the lease (a holder that dies lets go too)."""
