"""Faults at the broker that once stopped or silenced ingest, against a real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiomqtt
import pytest

from monitor.adapters.mqtt import BrokerAddress, Inbox, MqttIngest
from monitor.settings import Settings
from tests.integration.conftest import (
    Mosquitto,
    RunningMonitor,
    eventually,
    free_port,
    monitor_running,
    publisher,
    reading,
    system_alarms,
)
from tests.servers import MosquittoProcess, repo_broker

pytestmark = pytest.mark.integration


async def stored(monitor: RunningMonitor, session_id: str) -> int:
    async with monitor.api() as http:
        return len((await http.get(f"/api/sessions/{session_id}/vitals")).json()["readings"])


async def test_an_oversized_message_is_dead_lettered_and_every_bed_goes_on(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    session_id = await monitor.open_session("chair-2")
    async with publisher(mosquitto) as mqtt:
        await mqtt.publish(f"infusion/{monitor.site}/chair-1/vitals", b"{" + b" " * 1_048_576,
                           qos=1)
        # beyond the Maximum Packet Size the monitor announces: the broker drops it
        await mqtt.publish(f"infusion/{monitor.site}/chair-1/vitals", b"x" * 20_000_000, qos=1)
        for seq in range(5):
            await mqtt.publish(f"infusion/{monitor.site}/chair-2/vitals", reading(seq, hr=72),
                               qos=1)

    async def all_stored() -> bool:
        return await stored(monitor, session_id) == 5
    await eventually(all_stored)
    async with monitor.api() as http:
        letters = (await http.get("/api/dead-letters")).json()["dead_letters"]
    [big] = [d for d in letters if d["size"] == 1_048_577]
    assert big["reason"] == "payload is 1048577 bytes, more than 65536"
    assert len(big["payload"]) == 4096


async def test_a_client_taking_the_monitors_id_is_a_high_alarm_and_ingest_goes_on(
    monitor: RunningMonitor, mosquitto: Mosquitto, monitor_settings: Settings
) -> None:
    # Mosquitto 2.0 closes the old connection without the DISCONNECT "session
    # taken over" (0x8E) a broker may send, on which the monitor raises
    # mqtt_taken_over; here the intruder's clean start wipes the monitor's
    # session, which the monitor sees on reconnecting: broker_session_lost.
    session_id = await monitor.open_session("chair-1")
    with contextlib.suppress(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", mosquitto.port,
                                  identifier=monitor_settings.mqtt_client_id,
                                  protocol=aiomqtt.ProtocolVersion.V5):
            async def taken_over() -> bool:
                alarms = await system_alarms(monitor)
                return "high" in (alarms.get("mqtt_taken_over"),
                                  alarms.get("broker_session_lost"))
            await eventually(taken_over)
    async with publisher(mosquitto) as mqtt:
        for seq in range(3):
            await mqtt.publish(f"infusion/{monitor.site}/chair-1/vitals", reading(seq, hr=72),
                               qos=1)

    async def flowing() -> bool:
        return await stored(monitor, session_id) == 3
    await eventually(flowing)


async def test_a_broker_that_lost_the_monitors_session_raises_broker_session_lost(
    tmp_path: Path, monitor_settings: Settings, site: str
) -> None:
    port = free_port()
    config = tmp_path / "forgetful.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = MosquittoProcess(config, port)
    broker.start()
    settings = monitor_settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{port}"})
    try:
        async with monitor_running(settings, site) as monitor:
            assert "broker_session_lost" not in await system_alarms(monitor)
            broker.stop()
            broker.start()

            async def lost() -> bool:
                return (await system_alarms(monitor)).get("broker_session_lost") == "high"
            await eventually(lost, timeout_s=20)
    finally:
        broker.stop()


async def test_a_bed_account_cannot_take_the_monitors_client_id(tmp_path: Path) -> None:
    accounts = {"monitor": "monitor-pass", "ward1/bed-1": "bed-1-pass",
                "ward1/bed-2": "bed-2-pass"}
    broker = repo_broker(tmp_path, accounts)
    broker.start()
    inbox = Inbox(1000)
    ingest = MqttIngest(BrokerAddress.parse(f"mqtt://monitor:monitor-pass@127.0.0.1:{broker.port}"),
                        client_id="infusion-monitor", protocol="5", sites=["ward1"],
                        session_expiry_s=60, inbox=inbox)
    running = asyncio.create_task(ingest.run())
    try:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="infusion-monitor",
                                  username="ward1/bed-1", password="bed-1-pass"):
            async with aiomqtt.Client("127.0.0.1", broker.port, username="ward1/bed-2",
                                      password="bed-2-pass") as bed:
                for seq in range(30):
                    await bed.publish("infusion/ward1/bed-2/vitals", reading(seq), qos=1)
            got = [await asyncio.wait_for(inbox.get(), 10) for _ in range(30)]
            ingest.ack([message.ack for message in got])
        assert ingest.reconnects == 0
    finally:
        ingest.stop()
        ingest.release()
        await asyncio.wait_for(running, 10)
        broker.stop()


async def test_a_publish_the_broker_refuses_is_an_error_naming_the_reason(tmp_path: Path) -> None:
    broker = repo_broker(tmp_path, {"monitor": "monitor-pass"})
    broker.start()
    ingest = MqttIngest(BrokerAddress.parse(f"mqtt://monitor:monitor-pass@127.0.0.1:{broker.port}"),
                        client_id="infusion-monitor", protocol="5", sites=["ward1"],
                        session_expiry_s=60, inbox=Inbox(10))
    running = asyncio.create_task(ingest.run())
    try:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        await ingest.publish("infusion/ward1/alerts/bed-1", b"{}")  # allowed by the ACL
        with pytest.raises(ConnectionError, match=r"refused the message.*Not authorized"):
            await ingest.publish("infusion/ward1/bed-1/vitals", b"{}")  # not the monitor's
    finally:
        ingest.stop()
        ingest.release()
        await asyncio.wait_for(running, 10)
        broker.stop()


async def test_a_gap_in_seq_raises_data_gap_naming_the_missing_span(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    await monitor.open_session("chair-5")
    async with publisher(mosquitto) as mqtt:
        for seq in (*range(0, 5), *range(40, 45)):  # 35 readings lost on the way
            await mqtt.publish(f"infusion/{monitor.site}/chair-5/vitals",
                               reading(seq, "mon-5", hr=72), qos=1)

    async def gap() -> list[dict[str, object]]:
        async with monitor.api() as http:
            alarms = (await http.get("/api/alarms", params={"state": "active"})).json()["alarms"]
        return [a for a in alarms if a["code"] == "data_gap" and a["bed"] == "chair-5"]
    await eventually(gap)
    [alarm] = await gap()
    assert (alarm["kind"], alarm["priority"], alarm["value"]) == ("technical", "medium", 35)
    async with monitor.api() as http:
        history = (await http.get(f"/api/alarms/{alarm['id']}/history")).json()["history"]
    assert history[0]["detail"] == "device mon-5 skipped seq 5-39 (35 readings never arrived)"
