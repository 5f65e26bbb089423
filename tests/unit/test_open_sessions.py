"""A device belongs to the bed it first published from while that bed's session is open."""

from __future__ import annotations

import time

from monitor.app.beds import OpenSessions
from monitor.domain.engine import BedEngine
from monitor.domain.readings import BedRef
from monitor.domain.sessions import Session
from tests.unit.domain.engine_harness import default_profile


def engine(bed: BedRef) -> BedEngine:
    profile, now = default_profile(), int(time.time() * 1000)
    session = Session("s-" + bed.bed, bed, "p-" + bed.bed, "infusion", {"infusion": now},
                      profile.name)
    return BedEngine(session, profile, now_ms=now)


def test_a_session_that_ends_frees_its_own_devices_and_no_others() -> None:
    first, second, idle = (BedRef("clinic", f"chair-{n}") for n in (1, 2, 3))
    sessions = OpenSessions([engine(first), engine(second)])
    assert sessions.owner("dev-a", first) == first
    assert sessions.owner("dev-b", first) == first
    assert sessions.owner("dev-c", second) == second
    assert sessions.owner("dev-d", idle) is None  # no session there: nobody holds it
    assert sessions.owner("dev-a", second) == first

    sessions.close(first)
    assert sessions.owner("dev-a", second) == second
    assert sessions.owner("dev-b", idle) is None
    assert sessions.owner("dev-c", first) == second
    sessions.close(second)
    assert sessions.owner("dev-a", first) is None
    assert sessions.owner("dev-c", first) is None
