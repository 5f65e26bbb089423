"""Per-device sequence bookkeeping: QoS 1 redeliveries are dropped, gaps counted."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Final

DEFAULT_WINDOW: Final = 1024


@dataclass(slots=True)
class _DeviceWindow:
    """The last ``window`` seq numbers of a device in a ring indexed by seq: 16 bytes each."""

    last_seq: int
    last_ts_ms: int
    window: int
    seqs: array[int] = field(init=False)
    stamps: array[int] = field(init=False)

    def __post_init__(self) -> None:
        self.seqs = array("q", [-1]) * self.window
        self.stamps = array("q", [0]) * self.window


@dataclass(frozen=True, slots=True)
class SeqVerdict:
    """What a reading's ``seq`` says.

    Attributes:
        duplicate: The same reading (device, seq and ts) was seen already.
        missing: How many seq numbers were skipped just before this one.
        late: The device sent it before readings already seen (a lower seq
            and an older timestamp): it arrived out of order.
    """

    duplicate: bool
    missing: int = 0
    late: bool = False


class SequenceTracker:
    """Remembers each device's last ``window`` seq numbers, with their ts.

    A redelivered reading repeats both seq and ts, so that pair is its
    identity; a device that restarts its counter sends old seq numbers with
    new timestamps, which are new readings, not duplicates. The pairs are
    kept in flat arrays (16 bytes a reading, never growing), so a thousand
    devices sending for hours hold 16 MiB, not a Python object per reading.
    """

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        self._window = window
        self._devices: dict[str, _DeviceWindow] = {}

    def observe(self, device_id: str, seq: int, ts_ms: int) -> SeqVerdict:
        """Record a reading and say whether it is a duplicate and what it skipped."""
        device = self._devices.get(device_id)
        slot = seq % self._window
        if device is None:
            device = self._devices[device_id] = _DeviceWindow(seq, ts_ms, self._window)
            missing = 0
        elif device.seqs[slot] == seq and device.stamps[slot] == ts_ms:
            return SeqVerdict(duplicate=True)
        elif seq > device.last_seq:
            missing = seq - device.last_seq - 1
            device.last_seq, device.last_ts_ms = seq, max(ts_ms, device.last_ts_ms)
        else:
            # A lower seq with a newer timestamp means the device restarted its
            # counter; with an older one it is a late reading.
            if ts_ms > device.last_ts_ms:
                device.last_seq, device.last_ts_ms = seq, ts_ms
            else:
                device.seqs[slot], device.stamps[slot] = seq, ts_ms
                return SeqVerdict(duplicate=False, late=seq < device.last_seq)
            missing = 0
        device.seqs[slot], device.stamps[slot] = seq, ts_ms
        return SeqVerdict(duplicate=False, missing=missing)
