"""The broker as configured in config/mosquitto.conf and .acl: accounts, and each to its bed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from tests.integration.conftest import reading
from tests.servers import MosquittoProcess, repo_broker

pytestmark = pytest.mark.integration

ACCOUNTS = {"monitor": "monitor-pass", "ward1/bed-1": "bed-1-pass", "ward1/bed-2": "bed-2-pass"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    process = repo_broker(tmp_path, ACCOUNTS)
    process.start()
    yield process
    process.stop()


def client(broker: MosquittoProcess, user: str | None) -> aiomqtt.Client:
    password = ACCOUNTS.get(user or "")
    return aiomqtt.Client("127.0.0.1", broker.port, username=user, password=password,
                          identifier=f"test-{user}")


async def received(watcher: aiomqtt.Client, seconds: float) -> list[str]:
    topics: list[str] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for message in watcher.messages:
                topics.append(message.topic.value)
    return topics


async def test_a_device_may_publish_only_its_own_bed(broker: MosquittoProcess) -> None:
    async with client(broker, "monitor") as monitor:
        await monitor.subscribe("infusion/#", qos=1)
        async with client(broker, "ward1/bed-1") as device:
            for topic in ("infusion/ward1/bed-1/vitals", "infusion/ward1/bed-2/vitals",
                          "infusion/ward2/bed-1/vitals", "infusion/ward1/bed-1/status",
                          "infusion/ward1/alerts/bed-1"):
                await device.publish(topic, reading(1, hr=70), qos=1)
        topics = await received(monitor, 1.0)
    assert sorted(topics) == ["infusion/ward1/bed-1/status", "infusion/ward1/bed-1/vitals"]


async def test_a_device_reads_nothing_and_strangers_are_refused(
    broker: MosquittoProcess,
) -> None:
    async with client(broker, "ward1/bed-2") as snoop:
        await snoop.subscribe("infusion/#", qos=1)
        async with client(broker, "ward1/bed-1") as device:
            await device.publish("infusion/ward1/bed-1/vitals", reading(1, hr=70), qos=1)
        assert await received(snoop, 1.0) == []
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, None):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", broker.port, username="monitor",
                                  password="wrong"):
            pass


async def test_the_monitor_may_publish_pages_on_the_alerts_topic(
    broker: MosquittoProcess,
) -> None:
    async with client(broker, "monitor") as monitor:
        await monitor.subscribe("infusion/+/alerts/#", qos=1)
        await monitor.publish("infusion/ward1/alerts/bed-1", b'{"code": "sbp_high"}', qos=1)
        assert await received(monitor, 1.0) == ["infusion/ward1/alerts/bed-1"]
