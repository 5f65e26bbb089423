"""The demo's scripted nurse and a real nurse at the same chair."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from device_sim.device import SimulatedMonitor
from device_sim.lifecycle import SessionDriver
from device_sim.physiology import BASELINE_S, SESSION_S
from monitor.app.care_service import CareService, NotFitToLeaveError
from monitor.app.session_service import SessionService
from monitor.demo import DEMO_END, DemoSessions
from monitor.domain.assessments import Workflow
from monitor.domain.infusion import InfusionError, InfusionPlan
from monitor.domain.readings import BedRef
from monitor.domain.sessions import Phase, Session


class Book:
    """Sessions as the session service keeps them (a unit-test stand-in, real domain rules)."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.overrides: dict[str, str | None] = {}

    def open_at(self, bed: BedRef) -> Session | None:
        return next((s for s in self.sessions.values() if s.bed == bed and s.is_open), None)

    async def create(self, bed: BedRef, patient_ref: str, profile: str | None,
                     user: str, *, plan: InfusionPlan | None = None) -> Session:
        session = Session(f"s{len(self.sessions) + 1}", bed, patient_ref, "baseline",
                          {"baseline": 0}, "ketamine-default", plan=plan)
        self.sessions[session.id] = session
        return session

    async def advance(self, session_id: str, phase: Phase, user: str,
                      override_reason: str | None = None, **_: Any) -> Session:
        session = self.sessions[session_id] = self.sessions[session_id].advance(phase, 0)
        self.overrides[session_id] = override_reason
        return session

    async def get(self, session_id: str) -> Session:
        return self.sessions[session_id]


class Care:
    """The care service's rules that the scripted nurse meets (a unit-test stand-in)."""

    workflow = Workflow()

    def __init__(self, book: Book) -> None:
        self.book = book
        self.scores: list[tuple[str, str, float]] = []

    async def infusion(self, session_id: str, event: str, user: str, **_: Any) -> None:
        session = self.book.sessions[session_id]
        if not session.is_open:
            raise InfusionError(f"session {session_id} has ended")
        moves = {("start", "baseline"): "infusion", ("stop", "infusion"): "observation"}
        phase = moves.get((event, session.phase))
        if phase is not None:
            await self.book.advance(session_id, cast(Phase, phase), user)

    async def assess(self, session_id: str, scale: str, value: float, user: str) -> None:
        self.scores.append((session_id, scale, value))

    async def sign_discharge(self, session_id: str, *_: Any, **__: Any) -> None:
        raise NotFitToLeaveError(["vital signs not within the discharge criteria"])


def demo(book: Book) -> tuple[SessionDriver, Care]:
    care = Care(book)
    port = DemoSessions(cast(SessionService, book), cast(CareService, care))
    return SessionDriver(port), care


def chair(t_s: float) -> SimulatedMonitor:
    """The chair ``t_s`` simulated seconds into the day; sessions follow one another."""
    spec = SimpleNamespace(site="demo", bed="bed-01", seed=7)
    return cast(SimulatedMonitor,
                SimpleNamespace(spec=spec, session_t_s=t_s % SESSION_S, seq=int(t_s)))


def test_a_session_a_nurse_ended_is_left_alone_and_the_next_patient_gets_a_new_one() -> None:
    book = Book()
    driver, _ = demo(book)

    async def day() -> None:
        await driver.follow(chair(10))
        await book.advance("s1", "ended", "nurse-kim")  # the nurse stops it early
        await driver.follow(chair(BASELINE_S + 60))  # the script would start the infusion
        await driver.follow(chair(SESSION_S + 10))  # the chair's next patient

    asyncio.run(day())
    assert book.sessions["s1"].phase == "ended"
    assert "infusion" not in book.sessions["s1"].phase_started_ms
    assert (book.sessions["s2"].phase, book.sessions["s2"].is_open) == ("baseline", True)


def test_a_session_a_nurse_moved_on_is_not_moved_back_or_refused() -> None:
    book = Book()
    driver, _ = demo(book)

    async def early_start() -> None:
        await driver.follow(chair(10))
        await book.advance("s1", "infusion", "nurse-kim")  # started a minute early
        await driver.follow(chair(BASELINE_S + 60))

    asyncio.run(early_start())
    assert book.sessions["s1"].phase == "infusion"


def test_the_scripted_nurse_runs_the_pump_scores_and_ends_an_unready_patient_by_override() -> None:
    book = Book()
    driver, care = demo(book)

    async def session() -> None:
        for t_s in range(0, SESSION_S, 60):
            await driver.follow(chair(t_s))
        await driver.follow(chair(SESSION_S + 10))

    asyncio.run(session())
    first = book.sessions["s1"]
    assert first.plan is not None
    assert (first.plan.dose_mg_per_kg, first.plan.duration_min) == (0.5, 40)
    assert list(first.phase_started_ms) == ["baseline", "infusion", "observation", "ended"]
    assert book.overrides["s1"] == DEMO_END
    scales = [scale for sid, scale, _ in care.scores if sid == "s1"]
    assert scales[:3] == ["moaas", "cadss6", "nausea"]
    assert len(scales) == 3 * 7  # from the infusion's start, every 10 min for 70 min
