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
import contextlib
import logging
import socket
import ssl
import time
from dataclasses import dataclass

import aiomqtt

from device_sim.device import Cut, Emission, Publish, Reconnect, SimulatedMonitor
from monitor.adapters.mqtt import BrokerAddress

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

    def _client(self) -> aiomqtt.Client:
        will = None
        if self._single is not None:
            offline = self._single.status("offline", time.time())
            will = aiomqtt.Will(offline.topic, offline.payload, qos=1, retain=True)
        client = aiomqtt.Client(
            self._address.host, self._address.port, username=self._address.username,
            password=self._address.password, identifier=self._name, will=will,
            tls_context=ssl.create_default_context() if self._address.tls else None,
            max_inflight_messages=1000,
        )
        # A group publishes all its chairs' readings at once; that is no backlog.
        client.pending_calls_threshold = 2 * len(self._devices) + 10
        return client

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

    async def _one_tick(self, client: aiomqtt.Client) -> bool:
        """Step every chair at its phase and publish; False if the network was cut."""
        sending: list[asyncio.Task[None]] = []
        try:
            for offset_s, devices in self._slots:
                await self._at(offset_s)
                emissions = [e for device in devices for e in device.step(time.time)]
                if any(isinstance(e, Cut) for e in emissions):
                    _cut(client)
                    return False
                sending.append(asyncio.create_task(self._publish(
                    client, [e for e in emissions if isinstance(e, Publish)])))
            await asyncio.gather(*sending)
        finally:
            for task in sending:
                task.cancel()
        return True

    async def _publish(self, client: aiomqtt.Client, messages: list[Publish]) -> None:
        await asyncio.gather(*(
            client.publish(m.topic, m.payload, qos=self._qos, retain=m.retain) for m in messages
        ))
        self._stats.published += len(messages)

    async def run(self, ticks: int | None) -> None:
        """Publish until cancelled, or for ``ticks`` simulated seconds."""
        while ticks is None or self._tick < ticks:
            cut = False
            try:
                async with self._client() as client:
                    if self._single is not None:
                        await self._publish(client, [self._single.status("online", time.time())])
                    await self._publish(client, self._backlog)
                    self._backlog = []
                    while ticks is None or self._tick < ticks:
                        if not await self._one_tick(client):
                            cut = True
                            break
                        self._stats.ticks += 1
                        await self._pace()
            except aiomqtt.MqttError as error:
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


def _cut(client: aiomqtt.Client) -> None:
    """Drop the connection without DISCONNECT, as a pulled cable would."""
    sock = client._client.socket()  # noqa: SLF001 - aiomqtt has no way to fail on purpose
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


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
