"""SQLite storage: readings, sessions, alarms, audit events and dead letters.

One connection in WAL mode with full fsync (a reading is acknowledged to the
broker only after its commit), used from one worker thread so the event loop
never waits on the disk; every call goes through :meth:`SqliteStore.call`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from monitor.domain.alarms import AUDIT_ONLY, Alarm, AlarmEvent
from monitor.domain.limits import Priority
from monitor.domain.readings import VITALS, BedRef, Reading
from monitor.domain.sessions import PHASES, Phase, Session

T = TypeVar("T")

SCHEMA_VERSION: Final = 1
_SCHEMA: Final = f"""
CREATE TABLE IF NOT EXISTS readings (
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,
    ts TEXT NOT NULL, received_ms INTEGER NOT NULL,
    site TEXT NOT NULL, bed TEXT NOT NULL, session_id TEXT,
    {", ".join(f"{vital} REAL" for vital in VITALS)}, flags TEXT,
    PRIMARY KEY (device_id, seq, ts_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_session ON readings (session_id, ts_ms);
CREATE INDEX IF NOT EXISTS readings_by_received ON readings (received_ms);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, bed TEXT NOT NULL, patient_ref TEXT NOT NULL,
    phase TEXT NOT NULL, phase_started TEXT NOT NULL, profile TEXT NOT NULL,
    baseline TEXT NOT NULL, warnings TEXT NOT NULL, overrides TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_open ON sessions (phase) WHERE phase != 'ended';
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, bed TEXT NOT NULL, session_id TEXT,
    kind TEXT NOT NULL, code TEXT NOT NULL, vital TEXT, priority TEXT NOT NULL,
    state TEXT NOT NULL, value REAL, limit_value REAL,
    raised_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    condition_present INTEGER NOT NULL, acknowledged_by TEXT, acknowledged_ms INTEGER,
    paused_until_ms INTEGER
);
CREATE INDEX IF NOT EXISTS alarms_by_state ON alarms (state);
CREATE TABLE IF NOT EXISTS alarm_events (
    id INTEGER PRIMARY KEY, alarm_id TEXT NOT NULL, transition TEXT NOT NULL,
    at_ms INTEGER NOT NULL, priority TEXT NOT NULL, state TEXT NOT NULL,
    value REAL, limit_value REAL, user TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS alarm_events_by_alarm ON alarm_events (alarm_id, id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL,
    session_id TEXT, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL, revoked_ms INTEGER
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
    user TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_by_session ON notes (session_id, id);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, reason TEXT NOT NULL
);
PRAGMA user_version = {SCHEMA_VERSION};
"""

_READING_COLUMNS: Final = (
    "device_id, seq, ts_ms, ts, received_ms, site, bed, session_id, "
    + ", ".join(VITALS) + ", flags"
)
_ALARM_COLUMNS: Final = (
    "id, site, bed, session_id, kind, code, vital, priority, state, value, limit_value, "
    "raised_ms, updated_ms, condition_present, acknowledged_by, acknowledged_ms, paused_until_ms"
)



@dataclass(frozen=True, slots=True)
class StoredReading:
    """An accepted reading as it is written: with its session and arrival time."""

    reading: Reading
    session_id: str | None
    received_ms: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be accepted, kept with the reason."""

    received_ms: int
    topic: str
    payload: bytes
    reason: str


@dataclass(slots=True)
class Batch:
    """What one commit writes."""

    readings: list[StoredReading] = field(default_factory=list)
    alarm_events: list[AlarmEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.readings) + len(self.alarm_events) + len(self.dead_letters)


def _alarm_row(alarm: Alarm) -> tuple[Any, ...]:
    return (
        alarm.id, alarm.bed.site, alarm.bed.bed, alarm.session_id, alarm.kind, alarm.code,
        alarm.vital, alarm.priority, alarm.state, alarm.value, alarm.limit,
        alarm.raised_ms, alarm.updated_ms, int(alarm.condition_present), alarm.acknowledged_by,
        alarm.acknowledged_ms, alarm.paused_until_ms,
    )


def _alarm_from_row(row: sqlite3.Row) -> Alarm:
    priority: Priority = row["priority"]
    return Alarm(
        id=row["id"], bed=BedRef(row["site"], row["bed"]), session_id=row["session_id"],
        kind=row["kind"], code=row["code"], vital=row["vital"], priority=priority,
        state=row["state"], value=row["value"], limit=row["limit_value"],
        raised_ms=row["raised_ms"], updated_ms=row["updated_ms"],
        condition_present=bool(row["condition_present"]),
        acknowledged_by=row["acknowledged_by"], acknowledged_ms=row["acknowledged_ms"],
        paused_until_ms=row["paused_until_ms"],
    )


def _session_from_row(row: sqlite3.Row) -> Session:
    started: dict[Phase, int] = {
        phase: at for phase, at in json.loads(row["phase_started"]).items() if phase in PHASES
    }
    phase: Phase = row["phase"]
    return Session(
        id=row["id"], bed=BedRef(row["site"], row["bed"]), patient_ref=row["patient_ref"],
        phase=phase, phase_started_ms=started, profile=row["profile"],
        baseline=json.loads(row["baseline"]), warnings=tuple(json.loads(row["warnings"])),
        overrides=json.loads(row["overrides"]),
    )


class SqliteStore:
    """The SQLite database under the data directory."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    async def call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function(connection)`` on the store's thread."""
        def run() -> T:
            assert self._db is not None, "store is not open"
            return function(self._db)
        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def open(self) -> None:
        """Create the file and schema if needed."""
        def connect() -> None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.executescript(_SCHEMA)
            self._db = db
        await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def close(self) -> None:
        """Close the connection and the worker thread."""
        def disconnect() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        await asyncio.get_running_loop().run_in_executor(self._executor, disconnect)
        self._executor.shutdown(wait=True)

    async def write(self, batch: Batch) -> int:
        """Commit a batch in one transaction; returns how many readings were new."""
        return await self.call(lambda db: _write(db, batch))

    async def save_session(self, session: Session) -> None:
        """Insert or update a session."""
        row = (
            session.id, session.bed.site, session.bed.bed, session.patient_ref, session.phase,
            json.dumps(session.phase_started_ms), session.profile, json.dumps(session.baseline),
            json.dumps(session.warnings), json.dumps(session.overrides),
        )
        await self.call(lambda db: db.execute(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row
        ))

    async def add_token(self, name: str, role: str, hashed: str, at_ms: int) -> int:
        """Store a token's hash; returns its id."""
        def insert(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO tokens (name, role, hash, created_ms) VALUES (?, ?, ?, ?)",
                (name, role, hashed, at_ms),
            )
            return int(cursor.lastrowid or 0)
        return await self.call(insert)

    async def tokens(self) -> list[dict[str, Any]]:
        """Every token in force: id, name, role, hash, created."""
        rows = await self.call(lambda db: db.execute(
            "SELECT id, name, role, hash, created_ms FROM tokens WHERE revoked_ms IS NULL "
            "ORDER BY id"
        ).fetchall())
        return [dict(row) for row in rows]

    async def revoke_token(self, token_id: int, at_ms: int) -> str | None:
        """Revoke a token; returns its hash, or None if there was none in force."""
        def revoke(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT hash FROM tokens WHERE id = ? AND revoked_ms IS NULL",
                             (token_id,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE tokens SET revoked_ms = ? WHERE id = ?", (at_ms, token_id))
            return str(row[0])
        return await self.call(revoke)

    async def add_note(self, session_id: str, at_ms: int, user: str, text: str) -> None:
        """Add a note to a session."""
        await self.call(lambda db: db.execute(
            "INSERT INTO notes (session_id, at_ms, user, text) VALUES (?, ?, ?, ?)",
            (session_id, at_ms, user, text),
        ))

    async def notes(self, session_id: str) -> list[dict[str, Any]]:
        """A session's notes, oldest first."""
        rows = await self.call(lambda db: db.execute(
            "SELECT at_ms, user, text FROM notes WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall())
        return [dict(row) for row in rows]

    async def audit(
        self, at_ms: int, user: str, action: str, session_id: str | None, detail: dict[str, Any]
    ) -> None:
        """Record who changed what (thresholds, phases) and when."""
        row = (at_ms, user, action, session_id, json.dumps(detail))
        await self.call(lambda db: db.execute(
            "INSERT INTO audit (at_ms, user, action, session_id, detail) VALUES (?, ?, ?, ?, ?)",
            row,
        ))

    async def audit_log(self, session_id: str) -> list[dict[str, Any]]:
        """A session's audit entries, oldest first."""
        rows = await self.call(lambda db: db.execute(
            "SELECT at_ms, user, action, detail FROM audit WHERE session_id = ? ORDER BY id",
            (session_id,),
        ).fetchall())
        return [
            {"at_ms": r["at_ms"], "user": r["user"], "action": r["action"],
             "detail": json.loads(r["detail"])}
            for r in rows
        ]

    async def alarm_history(self, alarm_id: str) -> list[dict[str, Any]]:
        """Every transition of one alarm, oldest first: time, value, limit, user."""
        rows = await self.call(lambda db: db.execute(
            "SELECT transition, at_ms, priority, state, value, limit_value, user, detail "
            "FROM alarm_events WHERE alarm_id = ? ORDER BY id", (alarm_id,),
        ).fetchall())
        return [
            {"transition": r["transition"], "at_ms": r["at_ms"], "priority": r["priority"],
             "state": r["state"], "value": r["value"], "limit": r["limit_value"],
             "user": r["user"], "detail": r["detail"]}
            for r in rows
        ]

    async def baseline_values(self, session_id: str) -> dict[str, list[float]]:
        """Each vital's stored values of a session so far (for its baseline)."""
        rows = await self.call(lambda db: db.execute(
            f"SELECT {', '.join(VITALS)} FROM readings WHERE session_id = ?",  # noqa: S608
            (session_id,),
        ).fetchall())
        return {
            vital: [row[vital] for row in rows if row[vital] is not None] for vital in VITALS
        }

    async def session(self, session_id: str) -> Session | None:
        """One session by id."""
        row = await self.call(lambda db: db.execute(
            "SELECT * FROM sessions WHERE id = ?", (session_id,)
        ).fetchone())
        return _session_from_row(row) if row is not None else None

    async def sessions(self, *, open_only: bool = False) -> list[Session]:
        """Every session (or only those not ended), oldest first."""
        where = "WHERE phase != 'ended'" if open_only else ""
        rows = await self.call(lambda db: db.execute(
            f"SELECT * FROM sessions {where} ORDER BY rowid"  # noqa: S608 - fixed text
        ).fetchall())
        return [_session_from_row(row) for row in rows]

    async def alarms(
        self, state: str | None = None, session_id: str | None = None
    ) -> list[Alarm]:
        """Alarms, newest first; ``state="open"`` for every one not cleared."""
        clauses, args = ["1"], list[str]()
        if state == "open":
            clauses.append("state != 'cleared'")
        elif state is not None:
            clauses.append("state = ?")
            args.append(state)
        if session_id is not None:
            clauses.append("session_id = ?")
            args.append(session_id)
        query = "WHERE " + " AND ".join(clauses)
        rows = await self.call(lambda db: db.execute(
            f"SELECT * FROM alarms {query} ORDER BY raised_ms DESC", args  # noqa: S608
        ).fetchall())
        return [_alarm_from_row(row) for row in rows]

    async def session_readings(
        self, session_id: str, from_ms: int | None = None, to_ms: int | None = None
    ) -> list[dict[str, Any]]:
        """A session's readings in device-time order (optionally from/to, Unix ms)."""
        window = (session_id, from_ms or 0, to_ms if to_ms is not None else 2**62)
        rows = await self.call(lambda db: db.execute(
            f"SELECT {_READING_COLUMNS} FROM readings "  # noqa: S608 - fixed column list
            "WHERE session_id = ? AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms, device_id, seq",
            window,
        ).fetchall())
        return [
            {
                "ts": row["ts"], "seq": row["seq"], "device_id": row["device_id"],
                "vitals": {v: row[v] for v in VITALS if row[v] is not None},
            }
            for row in rows
        ]

    async def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        """The newest dead letters, with the payload as text where it decodes."""
        rows = await self.call(lambda db: db.execute(
            "SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall())
        return [
            {
                "id": row["id"], "received_ms": row["received_ms"], "topic": row["topic"],
                "reason": row["reason"],
                "payload": bytes(row["payload"]).decode("utf-8", errors="replace")[:2048],
            }
            for row in rows
        ]

    async def recent_sequences(self, since_ms: int) -> list[tuple[str, int, int]]:
        """(device_id, seq, ts_ms) of readings received since ``since_ms``, in arrival order."""
        rows = await self.call(lambda db: db.execute(
            "SELECT device_id, seq, ts_ms FROM readings WHERE received_ms >= ? "
            "ORDER BY received_ms", (since_ms,)
        ).fetchall())
        return [(row[0], row[1], row[2]) for row in rows]


def _write(db: sqlite3.Connection, batch: Batch) -> int:
    before = db.total_changes
    db.execute("BEGIN")
    try:
        db.executemany(
            f"INSERT OR IGNORE INTO readings ({_READING_COLUMNS}) "  # noqa: S608 - fixed columns
            f"VALUES ({', '.join('?' * (9 + len(VITALS)))})",
            [
                (
                    r.reading.device_id, r.reading.seq, r.reading.ts_ms, r.reading.ts,
                    r.received_ms, r.reading.bed.site, r.reading.bed.bed, r.session_id,
                    *(r.reading.vitals.get(vital) for vital in VITALS),
                    json.dumps(r.reading.flags) if r.reading.flags else None,
                )
                for r in batch.readings
            ],
        )
        new_readings = db.total_changes - before
        for event in batch.alarm_events:
            alarm = event.alarm
            if event.transition not in AUDIT_ONLY:
                db.execute(
                    f"INSERT OR REPLACE INTO alarms ({_ALARM_COLUMNS}) "  # noqa: S608
                    f"VALUES ({', '.join('?' * 17)})",
                    _alarm_row(alarm),
                )
            db.execute(
                "INSERT INTO alarm_events (alarm_id, transition, at_ms, priority, state, value, "
                "limit_value, user, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (alarm.id, event.transition, event.at_ms or alarm.updated_ms, alarm.priority,
                 alarm.state, alarm.value, alarm.limit, event.user, event.detail),
            )
        db.executemany(
            "INSERT INTO dead_letters (received_ms, topic, payload, reason) VALUES (?, ?, ?, ?)",
            [(d.received_ms, d.topic, d.payload, d.reason) for d in batch.dead_letters],
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return new_readings
