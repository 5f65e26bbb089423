"""Per-device sequence bookkeeping: QoS 1 redeliveries are dropped, gaps counted."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

DEFAULT_WINDOW: Final = 4096


@dataclass(slots=True)
class _DeviceWindow:
    last_seq: int
    last_ts_ms: int
    seen: set[tuple[int, int]] = field(default_factory=set)
    order: deque[tuple[int, int]] = field(default_factory=deque)


@dataclass(frozen=True, slots=True)
class SeqVerdict:
    """What a reading's ``seq`` says.

    Attributes:
        duplicate: The same reading (device, seq and ts) was seen already.
        missing: How many seq numbers were skipped just before this one.
    """

    duplicate: bool
    missing: int = 0


class SequenceTracker:
    """Remembers the last ``window`` (seq, ts) pairs of each device.

    A redelivered reading repeats both seq and ts, so that pair is its
    identity; a device that restarts its counter sends old seq numbers with
    new timestamps, which are new readings, not duplicates.
    """

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        self._window = window
        self._devices: dict[str, _DeviceWindow] = {}

    def observe(self, device_id: str, seq: int, ts_ms: int) -> SeqVerdict:
        """Record a reading and say whether it is a duplicate and what it skipped."""
        key = (seq, ts_ms)
        device = self._devices.get(device_id)
        if device is None:
            device = self._devices[device_id] = _DeviceWindow(seq, ts_ms)
            missing = 0
        elif key in device.seen:
            return SeqVerdict(duplicate=True)
        elif seq > device.last_seq:
            missing = seq - device.last_seq - 1
            device.last_seq, device.last_ts_ms = seq, max(ts_ms, device.last_ts_ms)
        else:
            # A lower seq with a newer timestamp means the device restarted its
            # counter; with an older one it is a late reading.
            missing = 0
            if ts_ms > device.last_ts_ms:
                device.last_seq, device.last_ts_ms = seq, ts_ms
        device.seen.add(key)
        device.order.append(key)
        if len(device.order) > self._window:
            device.seen.discard(device.order.popleft())
        return SeqVerdict(duplicate=False, missing=missing)
