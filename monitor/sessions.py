"""Opening sessions and moving them through their phases; stored, shown, audited."""

from __future__ import annotations

import uuid
from dataclasses import replace

from monitor.adapters.sqlite import Batch, SqliteStore
from monitor.domain.alarms import AlarmEvent, BedAlarms
from monitor.domain.board import Board, alarm_message, session_message
from monitor.domain.readings import BedRef
from monitor.domain.sessions import Phase, Session
from monitor.pipeline import EventSink, OpenSessions, now_ms


class SessionConflictError(ValueError):
    """The bed already has an open session."""


class UnknownSessionError(KeyError):
    """No session has that id."""


class SessionService:
    """Creates sessions and changes their phase."""

    def __init__(
        self,
        store: SqliteStore,
        open_sessions: OpenSessions,
        board: Board,
        sink: EventSink,
        *,
        profiles: set[str],
        default_profile: str,
    ) -> None:
        self._store = store
        self._open = open_sessions
        self._board = board
        self._sink = sink
        self._profiles = profiles
        self._default_profile = default_profile

    async def create(self, bed: BedRef, patient_ref: str, profile: str | None = None) -> Session:
        """Open a session at ``bed``, in its baseline phase.

        Raises:
            SessionConflictError: The bed has an open session already.
            ValueError: ``profile`` is not a known threshold profile.
        """
        current = self._open.get(bed)
        if current is not None:
            raise SessionConflictError(f"bed {bed.key} has open session {current.id}; end it first")
        chosen = profile or self._default_profile
        if chosen not in self._profiles:
            raise ValueError(
                f"unknown threshold profile {chosen!r}; known: {sorted(self._profiles)}"
            )
        session = Session(
            id=uuid.uuid4().hex, bed=bed, patient_ref=patient_ref, phase="baseline",
            phase_started_ms={"baseline": now_ms()}, profile=chosen,
        )
        await self._store.save_session(session)
        self._changed(session)
        return session

    def open_at(self, bed: BedRef) -> Session | None:
        """The bed's open session, if any."""
        return self._open.get(bed)

    async def get(self, session_id: str) -> Session:
        """A session by id.

        Raises:
            UnknownSessionError: No session has that id.
        """
        session = await self._store.session(session_id)
        if session is None:
            raise UnknownSessionError(session_id)
        return session

    async def advance(self, session_id: str, phase: Phase) -> Session:
        """Move a session to ``phase``; ending it clears the bed's alarms.

        Raises:
            UnknownSessionError: No session has that id.
            PhaseError: The phase change is not allowed.
        """
        session = (await self.get(session_id)).advance(phase, now_ms())
        events: list[AlarmEvent] = []
        if not session.is_open:
            state = self._open.alarms.pop(session.bed, BedAlarms())
            at = session.phase_started_ms["ended"]
            events = [
                AlarmEvent("cleared", replace(alarm, state="cleared", updated_ms=at))
                for alarm in state.active()
            ]
        await self._store.save_session(session)
        if events:
            await self._store.write(Batch(alarm_events=events))
        for event in events:
            self._board.on_alarm(event)
            self._sink.publish(alarm_message(event.alarm, event.transition))
        self._changed(session)
        return session

    def _changed(self, session: Session) -> None:
        self._open.put(session)
        self._board.on_session(session)
        self._sink.publish(session_message(session))
