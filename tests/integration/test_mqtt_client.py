"""The monitor's own MQTT client against a real Mosquitto: refusals, flow control, acks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from monitor.adapters.mqtt import BrokerAddress, Inbox, MqttIngest
from tests.integration.conftest import Mosquitto, eventually, reading
from tests.servers import repo_broker

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def ingesting(url: str, site: str, inbox: Inbox, *,
                    protocol: str = "5", client_id: str | None = None) -> AsyncIterator[MqttIngest]:
    ingest = MqttIngest(BrokerAddress.parse(url), client_id=client_id or f"test-{site}",
                        protocol=protocol, sites=[site], session_expiry_s=60, inbox=inbox)
    task = asyncio.create_task(ingest.run())
    try:
        yield ingest
    finally:
        ingest.stop()
        ingest.release()
        await asyncio.wait_for(task, 10)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_a_wrong_password_or_a_forbidden_topic_is_named_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    broker = repo_broker(tmp_path, {"monitor": "monitor-pass", "ward1/bed-1": "bed-pass"})
    broker.start()
    try:
        url = f"mqtt://monitor:wrong@127.0.0.1:{broker.port}"
        with caplog.at_level(logging.WARNING, logger="monitor.adapters.mqtt"):
            async with ingesting(url, "ward1", Inbox(100), protocol=protocol) as ingest:
                async def retried() -> bool:
                    return ingest.reconnects >= 2
                await eventually(retried, timeout_s=10)
                assert not ingest.connected.is_set()
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert refusals
        assert "the broker refused the connection:" in refusals[0]
        reason = refusals[0].lower()
        assert any(why in reason for why in ("not authorized", "bad user name or password"))
    finally:
        broker.stop()


async def test_the_inbox_limit_pauses_the_socket_and_nothing_is_lost(
    mosquitto: Mosquitto, site: str
) -> None:
    inbox = Inbox(20)
    count = 20_000
    async with ingesting(mosquitto.url, site, inbox) as ingest:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, max_inflight_messages=1000) as pub:
            pub.pending_calls_threshold = 2_000
            for start in range(0, count, 1_000):
                await asyncio.gather(*(pub.publish(f"infusion/{site}/b1/vitals",
                                                   reading(n, "dev-1"), qos=1)
                                       for n in range(start, start + 1_000)))
        seqs: list[int] = []
        most = 0
        async with asyncio.timeout(30):
            while len(seqs) < count:
                most = max(most, inbox.qsize())
                message = await inbox.get()
                seqs.append(json.loads(message.payload)["seq"])
                ingest.ack([message.ack])
                await asyncio.sleep(0)  # a slow consumer
    assert seqs == list(range(count))
    assert ingest.pauses > 0
    # At most the limit plus what one read of the socket (256 KiB) held.
    assert most < 20 + 256 * 1024 // len(reading(0, "dev-1"))


async def test_unacknowledged_messages_come_back_on_the_next_connection(
    mosquitto: Mosquitto, site: str
) -> None:
    inbox = Inbox(1_000)
    client_id = f"redeliver-{site}"
    async with ingesting(mosquitto.url, site, inbox, client_id=client_id) as ingest:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
            for n in range(10):
                await pub.publish(f"infusion/{site}/b1/vitals", reading(n, "dev-1"), qos=1)
        first = [await asyncio.wait_for(inbox.get(), 10) for _ in range(10)]
        ingest.ack([m.ack for m in first[:4]])
        await asyncio.sleep(0.2)
    again = Inbox(1_000)
    async with ingesting(mosquitto.url, site, again, client_id=client_id):
        back = [await asyncio.wait_for(again.get(), 10) for _ in range(6)]
    assert [m.payload for m in back] == [m.payload for m in first[4:]]
    assert again.empty()
