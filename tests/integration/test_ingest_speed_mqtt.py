"""The MQTT client's fast path for PUBLISH against a real Mosquitto: what paho's path would give.

Messages the fast path takes (QoS 0 and 1, no properties) and ones it
leaves to paho (MQTT 5 properties, packets split across socket reads) come
into the inbox alike, and acknowledging them all leaves none to come back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from monitor.adapters.mqtt import BrokerAddress, Inbox, MqttIngest
from monitor.adapters.mqtt_link import BufferedClient
from monitor.app.ports import Inbound
from tests.integration.conftest import Mosquitto

pytestmark = pytest.mark.integration

COUNT = 600


@contextlib.asynccontextmanager
async def ingesting(mosquitto: Mosquitto, site: str, inbox: Inbox,
                    protocol: str) -> AsyncIterator[MqttIngest]:
    ingest = MqttIngest(BrokerAddress.parse(mosquitto.url), client_id=f"fast-{site}",
                        protocol=protocol, sites=[site], session_expiry_s=60, inbox=inbox)
    task = asyncio.create_task(ingest.run())
    try:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        yield ingest
    finally:
        ingest.stop()
        ingest.release()
        await asyncio.wait_for(task, 10)


def sent(n: int) -> tuple[str, bytes, int]:
    """Message ``n``: (bed, payload, QoS); every 50th is 60 KB, longer than a read holds."""
    size = 60_000 if n % 50 == 0 else 40 + n % 7
    return f"b{n % 13}", f"{n:06d}".encode() + b"x" * size, 1 if n % 3 else 0


def properties(n: int) -> Properties | None:
    """MQTT 5 properties on every 4th message, which the fast path leaves to paho."""
    if n % 4:
        return None
    user = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    user.UserProperty = [("n", str(n))]
    user.MessageExpiryInterval = 600
    return user


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_every_message_arrives_as_sent_whichever_path_takes_it(
    mosquitto: Mosquitto, site: str, protocol: str
) -> None:
    inbox = Inbox(10_000)
    async with ingesting(mosquitto, site, inbox, protocol) as ingest:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, max_inflight_messages=COUNT,
                                  protocol=aiomqtt.ProtocolVersion.V5) as pub:
            await asyncio.gather(*(pub.publish(
                f"infusion/{site}/{bed}/vitals", payload, qos=qos, properties=properties(n))
                for n, (bed, payload, qos) in enumerate(map(sent, range(COUNT)))))
        got: list[Inbound] = [await asyncio.wait_for(inbox.get(), 10) for _ in range(COUNT)]
        ingest.ack([m.ack for m in got])
        await asyncio.sleep(0.3)
    assert sorted((m.topic, m.payload, m.ack.qos) for m in got) == sorted(
        (f"infusion/{site}/{bed}/vitals", payload, qos)
        for bed, payload, qos in map(sent, range(COUNT)))
    assert all(m.ack.mid for m in got if m.ack.qos)
    again = Inbox(10_000)
    async with ingesting(mosquitto, site, again, protocol):
        await asyncio.sleep(0.5)
    assert again.empty()


async def test_a_message_that_comes_alone_takes_the_fast_path(
    mosquitto: Mosquitto, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readings spread evenly arrive one to a read: each still skips paho's decoding."""
    decoded_by_paho = 0
    handle_publish = BufferedClient._handle_publish  # noqa: SLF001 - paho's decoding, counted

    def counted(client: BufferedClient) -> object:
        nonlocal decoded_by_paho
        decoded_by_paho += 1
        return handle_publish(client)

    monkeypatch.setattr(BufferedClient, "_handle_publish", counted)
    inbox = Inbox(100)
    async with ingesting(mosquitto, site, inbox, "5") as ingest, aiomqtt.Client(
            "127.0.0.1", mosquitto.port) as pub:
        for n in range(20):
            await pub.publish(f"infusion/{site}/b1/vitals", f"{n}".encode(), qos=1)
            message = await asyncio.wait_for(inbox.get(), 10)
            assert message.payload == f"{n}".encode()
            ingest.ack([message.ack])
    assert decoded_by_paho == 0
