"""SQLite queries of records: sessions, alarms, audit, tokens and notes.

:class:`RecordQueries` is the half of :class:`monitor.adapters.sqlite.SqliteStore`
that deals with records rather than vitals; it runs everything through
``call``, on the store's thread.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from monitor.adapters.record_rows import (
    SESSION_COLUMNS,
    alarm_from_row,
    session_from_row,
    session_row,
)
from monitor.domain.alarms import Alarm
from monitor.domain.sessions import Session

T = TypeVar("T")


class RecordQueries(ABC):
    """Sessions, alarms, audit, tokens and notes."""

    @abstractmethod
    async def call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function(connection)`` on the store's thread."""

    async def save_session(self, session: Session) -> None:
        """Insert or update a session."""
        row = session_row(session)
        await self.call(lambda db: db.execute(
            f"INSERT OR REPLACE INTO sessions ({SESSION_COLUMNS}) "  # noqa: S608 - fixed columns
            f"VALUES ({', '.join('?' * len(row))})", row
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

    async def session(self, session_id: str) -> Session | None:
        """One session by id."""
        row = await self.call(lambda db: db.execute(
            "SELECT * FROM sessions WHERE id = ?", (session_id,)
        ).fetchone())
        return session_from_row(row) if row is not None else None

    async def sessions(self, *, open_only: bool = False) -> list[Session]:
        """Every session (or only those not ended), oldest first."""
        where = "WHERE phase != 'ended'" if open_only else ""
        rows = await self.call(lambda db: db.execute(
            f"SELECT * FROM sessions {where} ORDER BY rowid"  # noqa: S608 - fixed text
        ).fetchall())
        return [session_from_row(row) for row in rows]

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
        return [alarm_from_row(row) for row in rows]

