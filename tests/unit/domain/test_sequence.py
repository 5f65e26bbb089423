from monitor.domain.sequence import SequenceTracker


def test_redelivery_is_a_duplicate_and_gaps_are_counted() -> None:
    tracker = SequenceTracker()
    assert tracker.observe("d", 1, 1000).duplicate is False
    assert tracker.observe("d", 1, 1000).duplicate is True
    verdict = tracker.observe("d", 5, 5000)
    assert (verdict.duplicate, verdict.missing) == (False, 3)
    assert tracker.observe("d", 3, 3000).missing == 0  # late, not a duplicate
    assert tracker.observe("d", 3, 3000).duplicate is True


def test_devices_are_separate_and_a_restarted_counter_is_new_data() -> None:
    tracker = SequenceTracker()
    tracker.observe("a", 10, 1000)
    assert tracker.observe("b", 10, 1000).duplicate is False
    assert tracker.observe("a", 0, 9000).duplicate is False
    assert tracker.observe("a", 1, 10000).missing == 0


def test_the_window_forgets_old_readings() -> None:
    tracker = SequenceTracker(window=3)
    for seq in range(5):
        tracker.observe("d", seq, seq * 1000)
    assert tracker.observe("d", 0, 0).duplicate is False
    assert tracker.observe("d", 4, 4000).duplicate is True
