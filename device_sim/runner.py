"""Running simulated monitors against a broker, in real time scaled by ``speed``.

Chairs share connections in groups: a group of one is a real bedside monitor
with its own connection and last will (so ``device-drop`` makes the broker
announce it offline); larger groups let one process carry thousands of
chairs. Each chair steps once per simulated second at its own phase within
that second, as independent bedside monitors do: the chairs of a run are
spread evenly over the second instead of all publishing at one instant.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from device_sim.device import Cut, Emission, Publish, Reconnect, SimulatedMonitor
from monitor.adapters import mqtt_wire as wire
from monitor.adapters.mqtt import BrokerAddress, Connection, publishing

log = logging.getLogger(__name__)

RECONNECT_S = 1.0
MIN_SLOT_S = 0.005


@dataclass(slots=True)
class RunStats:
    """What the simulator managed: messages sent and how far behind schedule it fell."""

    published: int = 0
    ticks: int = 0
    max_lag_s: float = 0.0


class _Group:
    """Chairs on one MQTT connection."""

    def __init__(
        self,
        address: BrokerAddress,
        devices: list[SimulatedMonitor],
        phases: list[float],
        *,
        name: str,
        speed: float,
        qos: int,
        stats: RunStats,
    ) -> None:
        self._address = address
        self._devices = devices
        self._name = name
        self._interval_s = 1.0 / speed
        self._qos = qos
        self._stats = stats
        self._single = devices[0] if len(devices) == 1 else None
        self._tick = 0
        self._started = time.monotonic()
        self._backlog: list[Publish] = []
        slots = max(1, min(len(devices), int(self._interval_s / MIN_SLOT_S)))
        by_slot: dict[int, list[SimulatedMonitor]] = {}
        for device, phase in zip(devices, phases, strict=True):
            by_slot.setdefault(int(phase * slots), []).append(device)
        self._slots = [(slot * self._interval_s / slots, by_slot[slot]) for slot in sorted(by_slot)]

    def _will(self) -> wire.Will | None:
        if self._single is None:
            return None
        offline = self._single.status("offline", time.time())
        return wire.Will(offline.topic, offline.payload)

    def _step(self) -> list[Emission]:
        return [emission for device in self._devices for emission in device.step(time.time)]

    async def _at(self, offset_s: float) -> None:
        """Wait for ``offset_s`` into the current tick (at once if that has passed)."""
        lag = time.monotonic() - (self._started + self._tick * self._interval_s + offset_s)
        self._stats.max_lag_s = max(self._stats.max_lag_s, lag)
        if lag < 0:
            await asyncio.sleep(-lag)

    async def _pace(self) -> None:
        self._tick += 1
        await self._at(0.0)

    async def _one_tick(self, connection: Connection) -> bool:
        """Step every chair at its phase and publish; False if the network was cut."""
        acks: list[asyncio.Future[wire.Packet]] = []
        for offset_s, devices in self._slots:
            await self._at(offset_s)
            emissions = [e for device in devices for e in device.step(time.time)]
            if any(isinstance(e, Cut) for e in emissions):
                _cut(connection)
                return False
            acks += self._send(connection, [e for e in emissions if isinstance(e, Publish)])
        await asyncio.gather(*acks)
        return True

    def _send(self, connection: Connection, messages: list[Publish]) -> list[
        asyncio.Future[wire.Packet]
    ]:
        """Publish in one write; the futures of the broker's PUBACKs (QoS 1)."""
        packets, acks = [], []
        for message in messages:
            packet_id = connection.packet_id() if self._qos else 0
            if packet_id:
                acks.append(connection.expect(packet_id))
            packets.append(wire.publish(message.topic, message.payload, qos=self._qos,
                                        packet_id=packet_id, v5=False, retain=message.retain))
        connection.write(b"".join(packets))
        self._stats.published += len(messages)
        return acks

    async def run(self, ticks: int | None) -> None:
        """Publish until cancelled, or for ``ticks`` simulated seconds."""
        while ticks is None or self._tick < ticks:
            cut = False
            try:
                async with publishing(self._address, self._name, will=self._will()) as connection:
                    first = [self._single.status("online", time.time())] if self._single else []
                    await asyncio.gather(*self._send(connection, first + self._backlog))
                    self._backlog = []
                    while ticks is None or self._tick < ticks:
                        if not await self._one_tick(connection):
                            cut = True
                            break
                        self._stats.ticks += 1
                        await self._pace()
            except (OSError, TimeoutError) as error:
                if not cut:
                    log.warning("%s: %s; reconnecting", self._name, error)
                    await asyncio.sleep(RECONNECT_S)
            if cut:
                await self._offline(ticks)

    async def _offline(self, ticks: int | None) -> None:
        """The network is down: time passes until the device reconnects."""
        while ticks is None or self._tick < ticks:
            await self._pace()
            emissions = self._step()
            if any(isinstance(e, Reconnect) for e in emissions):
                self._backlog = [e for e in emissions if isinstance(e, Publish)
                                 and not e.retain]
                return


def _cut(connection: Connection) -> None:
    """Drop the connection without DISCONNECT, as a pulled cable would."""
    if connection.transport is not None:
        connection.transport.abort()


async def run_devices(
    address: BrokerAddress,
    devices: list[SimulatedMonitor],
    *,
    speed: float = 1.0,
    qos: int = 1,
    connections: int | None = None,
    duration_s: int | None = None,
    stats: RunStats | None = None,
) -> RunStats:
    """Run the devices, each on its own connection unless ``connections`` groups them."""
    stats = stats or RunStats()
    count = len(devices) if connections is None else max(1, min(connections, len(devices)))
    async with asyncio.TaskGroup() as task_group:
        for index in range(count):
            group = devices[index::count]
            phases = [position / len(devices) for position in range(index, len(devices), count)]
            name = f"sim-{group[0].spec.device_id}" if len(group) == 1 else f"sim-group-{index}"
            runner = _Group(address, group, phases, name=name, speed=speed, qos=qos,
                            stats=stats)
            task_group.create_task(runner.run(duration_s), name=name)
    return stats
