"""The demo's scripted nurse and a real nurse at the same chair."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from device_sim.device import SimulatedMonitor
from device_sim.lifecycle import SessionDriver
from device_sim.physiology import BASELINE_S, SESSION_S
from monitor.app.session_service import SessionService
from monitor.demo import DemoSessions
from monitor.domain.readings import BedRef
from monitor.domain.sessions import Phase, Session


class Book:
    """Sessions as the session service keeps them (a unit-test stand-in, real domain rules)."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}

    def open_at(self, bed: BedRef) -> Session | None:
        return next((s for s in self.sessions.values() if s.bed == bed and s.is_open), None)

    async def create(self, bed: BedRef, patient_ref: str, profile: str | None,
                     user: str) -> Session:
        session = Session(f"s{len(self.sessions) + 1}", bed, patient_ref, "baseline",
                          {"baseline": 0}, "ketamine-default")
        self.sessions[session.id] = session
        return session

    async def advance(self, session_id: str, phase: Phase, user: str, **_: Any) -> Session:
        session = self.sessions[session_id] = self.sessions[session_id].advance(phase, 0)
        return session

    async def get(self, session_id: str) -> Session:
        return self.sessions[session_id]


def chair(t_s: float) -> SimulatedMonitor:
    """The chair ``t_s`` simulated seconds into the day; sessions follow one another."""
    spec = SimpleNamespace(site="demo", bed="bed-01")
    return cast(SimulatedMonitor,
                SimpleNamespace(spec=spec, session_t_s=t_s % SESSION_S, seq=int(t_s)))


def test_a_session_a_nurse_ended_is_left_alone_and_the_next_patient_gets_a_new_one() -> None:
    book = Book()
    driver = SessionDriver(DemoSessions(cast(SessionService, book)))

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
    driver = SessionDriver(DemoSessions(cast(SessionService, book)))

    async def early_start() -> None:
        await driver.follow(chair(10))
        await book.advance("s1", "infusion", "nurse-kim")  # started a minute early
        await driver.follow(chair(BASELINE_S + 60))

    asyncio.run(early_start())
    assert book.sessions["s1"].phase == "infusion"
