import pytest

from monitor.domain.readings import BedRef
from monitor.domain.sessions import PhaseError, Session


def session() -> Session:
    return Session("s1", BedRef("a", "b"), "p-1", "baseline", {"baseline": 0}, "ketamine-default")


def test_phases_go_forward_one_step_and_are_timestamped() -> None:
    s = session().advance("infusion", 10).advance("observation", 20).advance("ended", 30)
    assert s.phase_started_ms == {"baseline": 0, "infusion": 10, "observation": 20, "ended": 30}
    assert not s.is_open


def test_skipping_or_going_back_is_refused() -> None:
    with pytest.raises(PhaseError, match="next is infusion or ended, not observation"):
        session().advance("observation", 1)
    with pytest.raises(PhaseError, match="has ended"):
        session().advance("ended", 1).advance("baseline", 2)


def test_a_session_can_end_early() -> None:
    assert session().advance("ended", 5).phase == "ended"
