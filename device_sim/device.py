"""One simulated bedside monitor, without I/O: what it sends each simulated second.

:meth:`SimulatedMonitor.step` returns the emissions of one second: payloads
to publish, or a network cut / reconnect (``device-drop``). The clock is
injected, so the same seed and clock give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import numpy as np

from device_sim.physiology import NIBP_CYCLE_S, SESSION_S, TEMP_CYCLE_S, Body, Patient
from device_sim.scenarios import Scenario

VITALS: Final = ("hr", "spo2", "rr", "etco2", "sbp", "dbp", "map", "temp")
"""Every vital this device measures, by the name it sends."""

UNITS: Final = {
    "hr": "/min",
    "rr": "/min",
    "spo2": "%",
    "sbp": "mm[Hg]",
    "dbp": "mm[Hg]",
    "map": "mm[Hg]",
    "etco2": "mm[Hg]",
    "temp": "Cel",
}
"""UCUM unit of each vital, as the device labels it in SenML."""


@dataclass(frozen=True, slots=True)
class ChairSpec:
    """Where a simulated chair stands and how it behaves."""

    site: str
    bed: str
    device_id: str
    seed: int
    scenario: str = "normal"
    nibp_cycle_s: int = NIBP_CYCLE_S
    temp_cycle_s: int = TEMP_CYCLE_S


@dataclass(frozen=True, slots=True)
class Publish:
    """A message to publish."""

    topic: str
    payload: bytes
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Cut:
    """The network is cut: no DISCONNECT is sent, so the broker sends the last will."""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """The network is back: connect again and say ``online``."""


Emission = Publish | Cut | Reconnect


def iso(epoch_s: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def senml(device_id: str, seq: int, epoch_s: float, vitals: dict[str, float],
          flags: dict[str, str]) -> bytes:
    """A reading as a SenML pack (RFC 8428): UCUM units, ``seq`` as a record, flags as ``vs``."""
    records: list[dict[str, object]] = [
        {"bn": f"urn:dev:{device_id}:", "bt": round(epoch_s, 3), "n": "seq", "v": seq}
    ]
    records += [{"n": name, "u": UNITS[name], "v": value} for name, value in vitals.items()]
    records += [{"n": name, "vs": flag} for name, flag in flags.items()]
    return json.dumps(records).encode()


class SimulatedMonitor:
    """A bedside monitor with its patient, following one scenario."""

    def __init__(self, spec: ChairSpec, *, use_senml: bool = False) -> None:
        self.spec = spec
        self.scenario = Scenario(spec.scenario)
        self._rng = np.random.default_rng(spec.seed)
        self.body = Body(Patient.draw(self._rng))
        self._senml = use_senml
        self.seq = 0
        self.t_s = 0
        self._held: bytes | None = None
        self._was_silent = False

    @property
    def session_t_s(self) -> int:
        """Simulated seconds into the current session; sessions follow one another."""
        return self.t_s % SESSION_S

    @property
    def topic(self) -> str:
        """The chair's vitals topic."""
        return f"infusion/{self.spec.site}/{self.spec.bed}/vitals"

    @property
    def status_topic(self) -> str:
        """The chair's retained status topic."""
        return f"infusion/{self.spec.site}/{self.spec.bed}/status"

    def status(self, state: str, epoch_s: float) -> Publish:
        """A retained ``online``/``offline`` status message."""
        payload = {"state": state, "device_id": self.spec.device_id, "ts": iso(epoch_s)}
        return Publish(self.status_topic, json.dumps(payload).encode(), retain=True)

    def _payload(self, epoch_s: float, vitals: dict[str, float], flags: dict[str, str]) -> bytes:
        garbled = self.scenario.garble(self.seq, self._rng)
        if garbled is not None:
            return garbled
        if self._senml:
            return senml(self.spec.device_id, self.seq, epoch_s, vitals, flags)
        reading: dict[str, object] = {
            "v": 1, "device_id": self.spec.device_id, "seq": self.seq, "ts": iso(epoch_s),
            "vitals": vitals,
        }
        if flags:
            reading["flags"] = flags
        return json.dumps(reading).encode()

    def step(self, clock: Callable[[], float]) -> list[Emission]:
        """One simulated second: what the device sends (``clock`` gives epoch seconds)."""
        t = self.session_t_s
        out: list[Emission] = []
        if self.scenario.cut_now(t):
            out.append(Cut())
        silent = self.scenario.silent(t)
        if self._was_silent and not silent:
            out += [Reconnect(), self.status("online", clock())]
        self._was_silent = silent
        nibp = t % self.spec.nibp_cycle_s == 0
        temp = t % self.spec.temp_cycle_s == 0
        vitals, flags = self.body.measure(t, self._rng, nibp=nibp, temp=temp)
        self.scenario.alter(t, vitals, flags)
        epoch_s = clock() + self.scenario.clock_offset_s()
        payload = self._payload(epoch_s, vitals, flags)
        seq = self.seq
        self.seq += 1
        self.t_s += 1
        if silent:
            return out
        if self.scenario.swap(seq):
            self._held = payload
            return out
        out.append(Publish(self.topic, payload))
        if self.scenario.repeat(seq):
            out.append(Publish(self.topic, payload))
        if self._held is not None:
            out.append(Publish(self.topic, self._held))
            self._held = None
        return out
