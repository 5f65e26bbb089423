"""Simulated chairs: each is one bedside monitor with its own MQTT connection.

A chair publishes a schema-v1 reading every simulated second, with blood
pressure every NIBP cycle, and a retained ``online`` status whose last will
is ``offline``. With ``speed`` X a simulated second lasts 1/X real seconds;
timestamps are real time, so the board ages values as it would for a real
monitor.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt
import numpy as np

from device_sim.physiology import NIBP_CYCLE_S, SESSION_S, Patient
from monitor.adapters.mqtt import BrokerAddress


@dataclass(frozen=True, slots=True)
class ChairSpec:
    """Where a simulated chair stands and how it is driven."""

    site: str
    bed: str
    device_id: str
    seed: int
    speed: float = 1.0


def iso_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds and ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_payload(state: str, device_id: str) -> bytes:
    """A device status message."""
    return json.dumps({"state": state, "device_id": device_id, "ts": iso_now()}).encode()


class Chair:
    """One simulated bedside monitor with one simulated patient."""

    def __init__(self, spec: ChairSpec) -> None:
        self.spec = spec
        self._rng = np.random.default_rng(spec.seed)
        self.patient = Patient.draw(self._rng)
        self.seq = 0
        self.t_s = 0.0

    @property
    def session_t_s(self) -> float:
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

    def next_payload(self) -> bytes:
        """The reading for the current simulated second; advances the clock."""
        session_t = self.session_t_s
        nibp = int(session_t) % NIBP_CYCLE_S == 0
        reading = {
            "v": 1, "device_id": self.spec.device_id, "seq": self.seq, "ts": iso_now(),
            "vitals": self.patient.vitals(session_t, self._rng, nibp=nibp),
        }
        self.seq += 1
        self.t_s += 1.0
        return json.dumps(reading).encode()

    async def run(self, address: BrokerAddress, stop_after_s: float | None = None) -> None:
        """Connect (with its last will) and publish until cancelled or ``stop_after_s``."""
        will = aiomqtt.Will(
            self.status_topic, status_payload("offline", self.spec.device_id), qos=1, retain=True
        )
        async with aiomqtt.Client(
            address.host, address.port, username=address.username, password=address.password,
            identifier=f"sim-{self.spec.device_id}", will=will,
            tls_context=ssl.create_default_context() if address.tls else None,
        ) as client:
            await client.publish(
                self.status_topic, status_payload("online", self.spec.device_id),
                qos=1, retain=True,
            )
            interval = 1.0 / self.spec.speed
            started = time.monotonic()
            while stop_after_s is None or self.t_s < stop_after_s:
                await client.publish(self.topic, self.next_payload(), qos=1)
                delay = started + self.t_s * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
