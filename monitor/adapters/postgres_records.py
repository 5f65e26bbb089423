"""PostgreSQL queries of records: sessions, alarms, audit, tokens and notes.

:class:`RecordQueries` is the half of :class:`monitor.adapters.postgres.PostgresStore`
that deals with records rather than vitals, as
:class:`monitor.adapters.sqlite_records.RecordQueries` is for SQLite: the same
tables and columns, the same answers. ``user`` is a reserved word in
PostgreSQL, so that column is always written quoted.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Final

from monitor.adapters.record_rows import (
    ALARM_COLUMNS,
    SESSION_COLUMNS,
    alarm_from_row,
    session_from_row,
    session_row,
)
from monitor.domain.alarms import Alarm
from monitor.domain.sessions import Session

SESSION_ORDER: Final = (
    "(SELECT min(value::bigint) FROM json_each_text(phase_started::json)), id"
)
"""Sessions oldest first: by when their first phase began, then by id."""


def alarm_upsert() -> str:
    """The statement that inserts or replaces an alarm (parameters as ``alarm_row``)."""
    names = [name.strip() for name in ALARM_COLUMNS.split(",")]
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != "id")
    return (f"INSERT INTO alarms ({ALARM_COLUMNS}) "  # noqa: S608 - fixed column list
            f"VALUES ({', '.join(['%s'] * len(names))}) ON CONFLICT (id) DO UPDATE SET {updates}")


class Queries(ABC):
    """How the query halves reach the database (each call in a transaction of its own)."""

    @abstractmethod
    async def rows(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows a query gives, as dicts by column name."""

    @abstractmethod
    async def execute(self, query: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the rows it changed."""

    @abstractmethod
    async def returning(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one writing statement; the rows its ``RETURNING`` gives."""


class RecordQueries(Queries):
    """Sessions, alarms, audit, tokens and notes."""

    async def save_session(self, session: Session) -> None:
        """Insert or update a session."""
        row = session_row(session)
        updates = ", ".join(f"{name} = excluded.{name}"
                            for name in SESSION_COLUMNS.split(", ") if name != "id")
        await self.execute(
            f"INSERT INTO sessions ({SESSION_COLUMNS}) "  # noqa: S608 - fixed column list
            f"VALUES ({', '.join(['%s'] * len(row))}) ON CONFLICT (id) DO UPDATE SET {updates}",
            row)

    async def add_token(self, name: str, role: str, hashed: str, at_ms: int) -> int:
        """Store a token's hash; returns its id."""
        [row] = await self.returning(
            "INSERT INTO tokens (name, role, hash, created_ms) VALUES (%s, %s, %s, %s) "
            "RETURNING id", (name, role, hashed, at_ms))
        return int(row["id"])

    async def tokens(self) -> list[dict[str, Any]]:
        """Every token in force: id, name, role, hash, created."""
        return await self.rows(
            "SELECT id, name, role, hash, created_ms FROM tokens WHERE revoked_ms IS NULL "
            "ORDER BY id")

    async def revoke_token(self, token_id: int, at_ms: int) -> str | None:
        """Revoke a token; returns its hash, or None if there was none in force."""
        rows = await self.returning(
            "UPDATE tokens SET revoked_ms = %s WHERE id = %s AND revoked_ms IS NULL "
            "RETURNING hash", (at_ms, token_id))
        return str(rows[0]["hash"]) if rows else None

    async def add_note(self, session_id: str, at_ms: int, user: str, text: str) -> None:
        """Add a note to a session."""
        await self.execute('INSERT INTO notes (session_id, at_ms, "user", text) '
                           "VALUES (%s, %s, %s, %s)", (session_id, at_ms, user, text))

    async def notes(self, session_id: str) -> list[dict[str, Any]]:
        """A session's notes, oldest first."""
        return await self.rows('SELECT at_ms, "user", text FROM notes WHERE session_id = %s '
                               "ORDER BY id", (session_id,))

    async def audit(
        self, at_ms: int, user: str, action: str, session_id: str | None, detail: dict[str, Any]
    ) -> None:
        """Record who changed what (thresholds, phases) and when."""
        await self.execute(
            'INSERT INTO audit (at_ms, "user", action, session_id, detail) '
            "VALUES (%s, %s, %s, %s, %s)", (at_ms, user, action, session_id, json.dumps(detail)))

    async def audit_log(self, session_id: str) -> list[dict[str, Any]]:
        """A session's audit entries, oldest first."""
        rows = await self.rows(
            'SELECT at_ms, "user", action, detail FROM audit WHERE session_id = %s ORDER BY id',
            (session_id,))
        return [{**row, "detail": json.loads(row["detail"])} for row in rows]

    async def alarm_history(self, alarm_id: str) -> list[dict[str, Any]]:
        """Every transition of one alarm, oldest first: time, value, limit, user."""
        return await self.rows(
            'SELECT transition, at_ms, priority, state, value, limit_value AS "limit", "user", '
            "detail FROM alarm_events WHERE alarm_id = %s ORDER BY id", (alarm_id,))

    async def session(self, session_id: str) -> Session | None:
        """One session by id."""
        rows = await self.rows("SELECT * FROM sessions WHERE id = %s", (session_id,))
        return session_from_row(rows[0]) if rows else None

    async def sessions(self, *, open_only: bool = False) -> list[Session]:
        """Every session (or only those not ended), oldest first."""
        where = "WHERE phase != 'ended'" if open_only else ""
        rows = await self.rows(
            f"SELECT * FROM sessions {where} ORDER BY {SESSION_ORDER}")  # noqa: S608
        return [session_from_row(row) for row in rows]

    async def alarms(
        self, state: str | None = None, session_id: str | None = None
    ) -> list[Alarm]:
        """Alarms, newest first; ``state="open"`` for every one not cleared."""
        clauses, args = ["true"], list[str]()
        if state == "open":
            clauses.append("state != 'cleared'")
        elif state is not None:
            clauses.append("state = %s")
            args.append(state)
        if session_id is not None:
            clauses.append("session_id = %s")
            args.append(session_id)
        rows = await self.rows(
            f"SELECT * FROM alarms WHERE {' AND '.join(clauses)} "  # noqa: S608
            "ORDER BY raised_ms DESC", args)
        return [alarm_from_row(row) for row in rows]
