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


def test_a_redelivery_after_a_counter_restart_is_a_duplicate() -> None:
    tracker = SequenceTracker(window=8)
    for seq in range(20):
        tracker.observe("d", seq, 1_000 * seq)
    assert tracker.observe("d", 1, 50_000).duplicate is False  # restarted counter
    assert tracker.observe("d", 1, 50_000).duplicate is True
    assert tracker.observe("d", 2, 51_000).missing == 0


def test_memory_per_device_does_not_grow_with_readings() -> None:
    tracker = SequenceTracker(window=64)
    tracker.observe("d", 0, 0)
    device = tracker._devices["d"]  # noqa: SLF001 - the storage is what is checked
    size = device.seqs.buffer_info()[1] + device.stamps.buffer_info()[1]
    for seq in range(1, 10_000):
        tracker.observe("d", seq, seq * 1_000)
    assert device.seqs.buffer_info()[1] + device.stamps.buffer_info()[1] == size == 128
