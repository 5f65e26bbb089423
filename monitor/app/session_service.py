"""Opening sessions, moving them through their phases, and their thresholds.

Every change is stored, shown on the board and, for thresholds and phases,
written to the audit log with the user who made it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

import numpy as np

from monitor.app.beds import AlarmFanout, OpenSessions
from monitor.app.board import Board
from monitor.app.counters import now_ms
from monitor.app.ports import RecordStore, VitalsStore
from monitor.app.writer import BatchWriter, Pending
from monitor.domain.alarms import AlarmEvent
from monitor.domain.engine import BedEngine
from monitor.domain.infusion import InfusionPlan
from monitor.domain.limits import Profile, VitalDoc, is_plausible
from monitor.domain.readings import VITALS, BedRef
from monitor.domain.sessions import Phase, PhaseError, Session, pre_start_warnings

PUMP_PHASES: Final[Mapping[Phase, str]] = {"infusion": "start", "observation": "stop"}
"""The phases a session with an infusion plan reaches by its pump's events only."""
ADOPT_BP_WITHIN_MS: Final = 10 * 60_000
"""A blood pressure the bed's device measured this shortly before its session opened is the
session's: stored with it (it counts towards the baseline) and judged."""


class SessionConflictError(ValueError):
    """The bed already has an open session."""


class UnknownSessionError(KeyError):
    """No session has that id."""


class NeedsChecklistError(ValueError):
    """Ending a session whose patient had the drug, without a signed fit-to-leave checklist."""


class NeedsAcknowledgementError(ValueError):
    """A phase change that a nurse must confirm first; the message names what stands."""

    def __init__(self, message: str, standing: list[str]) -> None:
        super().__init__(message)
        self.standing = standing


def baseline_of(values: Mapping[str, list[float]]) -> dict[str, float]:
    """Median of each vital's plausible values (vitals with none are left out)."""
    baseline = {}
    for vital, series in values.items():
        plausible = [v for v in series if is_plausible(vital, v)]
        if plausible:
            baseline[vital] = round(float(np.median(plausible)), 1)
    return baseline


class SessionBook:
    """Stored sessions by id, with the threshold profiles they run under."""

    def __init__(self, store: RecordStore, profiles: Mapping[str, Profile]) -> None:
        self._store = store
        self._profiles = profiles

    def named_profile(self, name: str) -> Profile:
        """A profile from thresholds.toml.

        Raises:
            KeyError: There is none of that name.
        """
        return self._profiles[name]

    def profile_of(self, session: Session) -> Profile:
        """The session's profile with its overrides applied."""
        return self._profiles[session.profile].with_overrides(session.overrides)

    async def get(self, session_id: str) -> Session:
        """A session by id.

        Raises:
            UnknownSessionError: No session has that id.
        """
        session = await self._store.session(session_id)
        if session is None:
            raise UnknownSessionError(session_id)
        return session


class SessionService(SessionBook):
    """Creates sessions, changes their phase and their thresholds."""

    def __init__(
        self,
        store: RecordStore,
        open_sessions: OpenSessions,
        board: Board,
        *,
        alarms: AlarmFanout,
        writer: BatchWriter,
        vitals: VitalsStore,
        profiles: Mapping[str, Profile],
        default_profile: str,
    ) -> None:
        super().__init__(store, profiles)
        self._open = open_sessions
        self._board = board
        self._alarms = alarms
        self._writer = writer
        self._vitals = vitals
        self._default_profile = default_profile

    async def create(
        self, bed: BedRef, patient_ref: str, profile: str | None, user: str, *,
        plan: InfusionPlan | None = None, limits_from_last: bool = False,
    ) -> Session:
        """``user`` opens a session at ``bed``, in its baseline phase.

        ``limits_from_last``: the session starts with the threshold
        overrides of the patient's last session (a per-patient preset),
        recorded as overrides with their origin.

        Raises:
            SessionConflictError: The bed has an open session already.
            ValueError: ``profile`` is not a known threshold profile, or the
                patient has no earlier session to take limits from.
        """
        current = self._open.engine(bed)
        if current is not None:
            raise SessionConflictError(
                f"bed {bed.key} has open session {current.session.id}; end it first"
            )
        chosen = profile or self._default_profile
        if chosen not in self._profiles:
            raise ValueError(
                f"unknown threshold profile {chosen!r}; known: {sorted(self._profiles)}"
            )
        preset = await self._last_session_of(patient_ref) if limits_from_last else None
        now = now_ms()
        session = Session(
            id=uuid.uuid4().hex, bed=bed, patient_ref=patient_ref, phase="baseline",
            phase_started_ms={"baseline": now}, profile=chosen, plan=plan,
            overrides=dict(preset.overrides) if preset else {},
        )
        await self._store.save_session(session)
        await self._store.audit(now, user, "opened", session.id, {
            "site": bed.site, "bed": bed.bed, "profile": chosen,
            "plan": plan.as_dict() if plan else None})
        if preset is not None:
            for vital, rules in preset.overrides.items():
                await self._store.audit(now, user, "thresholds", session.id, {
                    "vital": vital, "before": None, "after": rules,
                    "origin": {"patient_preset": preset.id}})
        engine = BedEngine(session, self.profile_of(session), now_ms=now)
        self._open.open(engine)
        self.show(session)
        held = self._open.take_held(bed, now - ADOPT_BP_WITHIN_MS)
        if held is not None:
            await self._writer.submit(Pending(reading=replace(held, session_id=session.id)))
            await self.emit(engine.on_reading(held.reading, now))
        return session

    async def _last_session_of(self, patient_ref: str) -> Session:
        ids = await self._store.patient_session_ids(patient_ref)
        if not ids:
            raise ValueError(f"patient {patient_ref} has no earlier session to take limits from")
        return await self.get(ids[-1])

    def open_at(self, bed: BedRef) -> Session | None:
        """The bed's open session, if any."""
        engine = self._open.engine(bed)
        return engine.session if engine else None

    async def advance(
        self, session_id: str, phase: Phase, user: str, *,
        acknowledge_warnings: bool = False, acknowledge_alarms: bool = False,
        override_reason: str | None = None, by_pump: bool = False,
    ) -> Session:
        """Move a session to ``phase``.

        Starting the infusion fixes the baseline (median of the baseline
        phase) and runs the pre-start check: a warning it finds (no resting
        BP, resting BP high) must be acknowledged (``acknowledge_warnings``).
        Ending a session whose bed has alarms not yet acknowledged needs
        ``acknowledge_alarms``; every alarm then clears in ``user``'s name.
        Ending a session whose infusion started needs a signed fit-to-leave
        checklist, or else ``override_reason`` (the caller checks that
        ``user`` may override), which the audit log keeps. A session with an
        infusion plan starts and stops its infusion only with its pump's
        events (``by_pump``), so the phase and the infusion record agree.

        Raises:
            UnknownSessionError: No session has that id.
            PhaseError: The phase change is not allowed.
            NeedsAcknowledgementError: Warnings or alarms stand that were not
                acknowledged; nothing changed.
            NeedsChecklistError: Ending without a checklist or an override.
        """
        now = now_ms()
        current = await self.get(session_id)
        if current.plan is not None and phase in PUMP_PHASES and not by_pump:
            raise PhaseError(
                f"session {session_id} has an infusion plan: its phase follows its pump; "
                f"record the pump's {PUMP_PHASES[phase]} (POST /api/sessions/{session_id}/"
                "infusion)")
        session = current.advance(phase, now)
        engine = self.engine_of(session)
        if phase == "infusion":
            readings = await self._vitals.session_readings(session.id)
            baseline = baseline_of({
                vital: [r.vitals[vital] for r in readings if vital in r.vitals]
                for vital in VITALS
            })
            session = replace(session, baseline=baseline, warnings=pre_start_warnings(baseline))
            if session.warnings and not acknowledge_warnings:
                raise NeedsAcknowledgementError(
                    "the pre-start check warns: " + "; ".join(session.warnings)
                    + ". Start with acknowledge_warnings true once a clinician has seen it",
                    list(session.warnings))
        needs_checklist = phase == "ended" and "infusion" in session.phase_started_ms
        if needs_checklist and not override_reason and await self._store.checklist(
                session.id) is None:
            raise NeedsChecklistError(
                f"session {session.id} has no signed fit-to-leave checklist: sign it (POST "
                f"/api/sessions/{session.id}/discharge), or an admin ends it with "
                "override_reason")
        if phase == "ended" and engine is not None and not acknowledge_alarms:
            standing = [f"{a.code}{f' ({a.vital})' if a.vital else ''} {a.priority} {a.state}"
                        for a in engine.alarms.values() if a.state != "acknowledged"]
            if standing:
                raise NeedsAcknowledgementError(
                    f"session {session.id} has alarms not acknowledged: {', '.join(standing)}."
                    " End with acknowledge_alarms true to acknowledge them in your name",
                    standing)
        await self._store.save_session(session)
        await self._store.audit(now, user, "phase", session.id, {
            "phase": phase, "baseline": dict(session.baseline), "warnings": session.warnings,
            "warnings_acknowledged": bool(session.warnings) and phase == "infusion",
            **({"override_reason": override_reason} if override_reason else {}),
        })
        if engine is not None:
            if session.is_open:
                events = engine.update_session(session, self.profile_of(session), now)
            else:
                events = engine.end(now, user)
                self._open.close(session.bed)
            await self.emit(events)
        self.show(session)
        return session

    async def set_thresholds(
        self, session_id: str, vital: str, rules: VitalDoc | None, user: str
    ) -> Session:
        """Replace (or with None, restore) the profile's rules for one vital of a session.

        Raises:
            UnknownSessionError: No session has that id.
            ValueError: The session has ended.
        """
        session = await self.get(session_id)
        if not session.is_open:
            raise ValueError(f"session {session_id} has ended")
        overrides: dict[str, Any] = dict(session.overrides)
        before = overrides.get(vital)
        if rules is None:
            overrides.pop(vital, None)
        else:
            overrides[vital] = rules.model_dump(exclude_none=True)
        session = replace(session, overrides=overrides)
        profile = self.profile_of(session)
        now = now_ms()
        await self._store.save_session(session)
        await self._store.audit(now, user, "thresholds", session.id, {
            "vital": vital, "before": before, "after": overrides.get(vital),
        })
        engine = self._open.engine(session.bed)
        if engine is not None:
            await self.emit(engine.update_session(session, profile, now))
        self.show(session)
        return session

    def engine_of(self, session: Session) -> BedEngine | None:
        """The alarm engine watching ``session``, while it is open."""
        engine = self._open.engine(session.bed)
        return engine if engine is not None and engine.session.id == session.id else None

    async def emit(self, events: list[AlarmEvent]) -> None:
        """Show, page and store alarm events (waiting for the commit while storing works)."""
        self._alarms.publish(events)
        await self._writer.record(events)

    def show(self, session: Session) -> None:
        """Show a changed session on the board."""
        self._board.on_session(session)

    def show_status(self, engine: BedEngine) -> None:
        """Show what a bed's engine says of its session now (infusion, discharge, pause)."""
        self._board.on_status(engine.session, engine.board_status(now_ms()))
