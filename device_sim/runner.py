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
import math
import time
from dataclasses import dataclass

import aiomqtt

from device_sim.broker import PUBLISH_TIMEOUT_S, Broker, BrokerErrors, cut
from device_sim.device import Cut, Emission, Publish, Reconnect, SimulatedMonitor

log = logging.getLogger(__name__)

RECONNECT_S = 1.0
MIN_SLOT_S = 0.005
SHARED_INFLIGHT = 1000
"""QoS 1 messages a shared connection may have awaiting PUBACK (paho's default is 20)."""


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
        broker: Broker,
        devices: list[SimulatedMonitor],
        phases: list[float],
        *,
        name: str,
        speed: float,
        qos: int,
        stats: RunStats,
        ca_file: str | None = None,
    ) -> None:
        self._broker = broker
        self._ca_file = ca_file
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
        """A client for the group: a lone chair has its last will, a shared one a wide window."""
        if self._single is None:
            return self._broker.client(self._name, max_inflight=SHARED_INFLIGHT,
                                       ca_file=self._ca_file)
        offline = self._single.status("offline", time.time())
        will = aiomqtt.Will(offline.topic, offline.payload, qos=1, retain=True)
        return self._broker.client(self._name, will=will, ca_file=self._ca_file)

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
        """Step every chair at its phase and publish; False if the network was cut.

        Each slot's publishes go out together at its phase; their PUBACKs are
        awaited together, all slots' at the end of the tick, so a broker that
        holds back a PUBACK (Mosquitto does not set TCP_NODELAY) does not hold
        back the next slot.
        """
        sending: list[asyncio.Future[list[None]]] = []
        sent = 0
        try:
            for offset_s, devices in self._slots:
                await self._at(offset_s)
                emissions = [e for device in devices for e in device.step(time.time)]
                if any(isinstance(e, Cut) for e in emissions):
                    cut(client)
                    return False
                messages = [e for e in emissions if isinstance(e, Publish)]
                if messages:
                    sending.append(self._publish(client, messages))
                    sent += len(messages)
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await asyncio.gather(*sending)
        finally:
            _settle(sending)
        self._stats.published += sent
        return True

    def _publish(
        self, client: aiomqtt.Client, messages: list[Publish]
    ) -> asyncio.Future[list[None]]:
        """Publish together; the future is done when the broker has acknowledged them all."""
        return asyncio.gather(*(
            client.publish(message.topic, message.payload, qos=self._qos,
                           retain=message.retain, timeout=math.inf)
            for message in messages
        ))

    async def _send(self, client: aiomqtt.Client, messages: list[Publish]) -> None:
        """Publish together and wait for the broker's PUBACKs (QoS 1) of them all."""
        if not messages:
            return
        sending = self._publish(client, messages)
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await sending
        finally:
            _settle([sending])
        self._stats.published += len(messages)

    async def run(self, ticks: int | None) -> None:
        """Publish until cancelled, or for ``ticks`` simulated seconds."""
        while ticks is None or self._tick < ticks:
            was_cut = False
            try:
                async with self._client() as client:
                    first = [self._single.status("online", time.time())] if self._single else []
                    await self._send(client, first + self._backlog)
                    self._backlog = []
                    while ticks is None or self._tick < ticks:
                        if not await self._one_tick(client):
                            was_cut = True
                            break
                        self._stats.ticks += 1
                        await self._pace()
            except BrokerErrors as error:
                if not was_cut:
                    log.warning("%s: %s; reconnecting", self._name,
                                error or type(error).__name__)
                    await asyncio.sleep(RECONNECT_S)
            if was_cut:
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


def _settle(sending: list[asyncio.Future[list[None]]]) -> None:
    """Cancel publishes still awaiting PUBACK (cut or failed); failures are retrieved."""
    for future in sending:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()


async def run_devices(
    broker_url: str,
    devices: list[SimulatedMonitor],
    *,
    speed: float = 1.0,
    qos: int = 1,
    connections: int | None = None,
    duration_s: int | None = None,
    stats: RunStats | None = None,
    ca_file: str | None = None,
) -> RunStats:
    """Run the devices, each on its own connection unless ``connections`` groups them.

    ``broker_url`` is ``mqtt[s]://[user:pass@]host[:port]``; ``ca_file`` the CA
    bundle to trust for ``mqtts`` (the system's if not given).

    Raises:
        ValueError: ``broker_url`` is not a broker URL.
    """
    broker = Broker.parse(broker_url)
    stats = stats or RunStats()
    count = len(devices) if connections is None else max(1, min(connections, len(devices)))
    async with asyncio.TaskGroup() as task_group:
        for index in range(count):
            group = devices[index::count]
            phases = [position / len(devices) for position in range(index, len(devices), count)]
            name = f"sim-{group[0].spec.device_id}" if len(group) == 1 else f"sim-group-{index}"
            runner = _Group(broker, group, phases, name=name, speed=speed, qos=qos,
                            stats=stats, ca_file=ca_file)
            task_group.create_task(runner.run(duration_s), name=name)
    return stats
