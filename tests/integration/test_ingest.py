"""A reading's way through a real Mosquitto into the monitor, its store and its board."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from monitor.settings import Settings
from tests.integration.conftest import (
    Mosquitto,
    RunningMonitor,
    eventually,
    monitor_running,
    publisher,
    reading,
)

pytestmark = pytest.mark.integration


async def messages(socket: Any) -> Any:
    while True:
        frame = json.loads(await socket.recv())
        for message in frame if isinstance(frame, list) else [frame]:
            yield message


async def test_sbp_190_reaches_the_board_as_a_high_alarm_and_is_stored(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    session_id = await monitor.open_session("chair-1")
    async with websockets.connect(monitor.ws_url()) as socket:
        stream = messages(socket)
        first = await anext(stream)
        assert first["type"] == "snapshot"
        assert [b["session"]["id"] for b in first["beds"]] == [session_id]
        async with publisher(mosquitto) as mqtt:
            await mqtt.publish(
                f"infusion/{monitor.site}/chair-1/vitals", reading(1, sbp=190, dbp=95, map=127),
                qos=1,
            )
        async with asyncio.timeout(5):
            async for message in stream:
                if message["type"] == "alarm":
                    break
    assert message["code"] == "sbp_high"
    assert (message["priority"], message["state"], message["kind"]) == (
        "high", "active", "physiological")
    assert (message["value"], message["limit"], message["session_id"]) == (190, 180, session_id)
    assert (message["site"], message["bed"]) == (monitor.site, "chair-1")

    def stored() -> bool:
        with monitor.db() as db:
            row = db.execute("SELECT sbp, session_id FROM readings WHERE seq = 1").fetchone()
            alarm = db.execute("SELECT priority, state FROM alarms").fetchone()
        return row is not None and tuple(row) == (190.0, session_id) and alarm is not None
    await eventually(stored)


async def test_bad_payloads_are_dead_lettered_and_the_next_reading_still_counts(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    topic = f"infusion/{monitor.site}/chair-2/vitals"
    async with publisher(mosquitto) as mqtt:
        await mqtt.publish(topic, b"{not json", qos=1)
        await mqtt.publish(topic, json.dumps({"v": 7, "device_id": "m", "seq": 1}), qos=1)
        await mqtt.publish(topic, reading(3, hr=71), qos=1)

    async with monitor.api() as http:
        async def board_shows_reading() -> bool:
            board = (await http.get("/api/board")).json()
            return any(b["vitals"].get("hr", {}).get("value") == 71 for b in board["beds"])
        await eventually(board_shows_reading)

        async def both_dead_letters_stored() -> bool:
            return len((await http.get("/api/dead-letters")).json()["dead_letters"]) == 2
        await eventually(both_dead_letters_stored)
        dead = (await http.get("/api/dead-letters")).json()
    assert dead["count"] == 2
    reasons = sorted(letter["reason"] for letter in dead["dead_letters"])
    assert reasons[0].startswith("payload is not JSON")
    assert reasons[1] == "unsupported schema version int 7, expected v=1"
    assert {letter["topic"] for letter in dead["dead_letters"]} == {topic}

    def stored() -> bool:
        with monitor.db() as db:
            count: int = db.execute("SELECT count(*) FROM readings WHERE hr = 71").fetchone()[0]
        return count == 1
    await eventually(stored)


async def test_readings_published_while_the_monitor_is_down_are_all_stored_once(
    monitor_settings: Settings, mosquitto: Mosquitto, site: str
) -> None:
    async with monitor_running(monitor_settings, site):
        pass  # the broker now holds a persistent session for the monitor
    async with publisher(mosquitto) as mqtt:
        for seq in range(50):
            await mqtt.publish(f"infusion/{site}/chair-3/vitals", reading(seq, hr=60 + seq), qos=1)
            if seq == 10:  # a redelivery of one of them, as QoS 1 allows
                await mqtt.publish(f"infusion/{site}/chair-3/vitals", reading(seq, hr=60 + seq),
                                   qos=1)
    async with monitor_running(monitor_settings, site) as monitor:
        def all_stored() -> bool:
            with monitor.db() as db:
                count: int = db.execute("SELECT count(*) FROM readings").fetchone()[0]
            return count >= 50
        await eventually(all_stored)
        async with monitor.api() as http:
            dead = (await http.get("/api/dead-letters")).json()
    with monitor.db() as db:
        seqs = [row[0] for row in db.execute("SELECT seq FROM readings ORDER BY seq")]
    assert seqs == list(range(50))
    assert dead["count"] == 0


async def test_a_dead_letter_keeps_4_kib_and_the_size_and_the_table_is_capped(
    monitor_settings: Settings, mosquitto: Mosquitto, site: str
) -> None:
    settings = monitor_settings.model_copy(update={"dead_letters_max_rows": 10})
    async with monitor_running(settings, site) as monitor, publisher(mosquitto) as mqtt:
        topic = f"infusion/{site}/chair-1/vitals"
        await mqtt.publish(topic, b"x" * 60_000, qos=1)
        for n in range(14):
            await mqtt.publish(topic, f"not json {n}".encode(), qos=1)

        def kept() -> bool:
            with monitor.db() as db:
                return bool(db.execute("SELECT COUNT(*) FROM dead_letters WHERE payload = ?",
                                       (b"not json 13",)).fetchone()[0])
        await eventually(kept)
        async with monitor.api() as http:
            letters = (await http.get("/api/dead-letters", params={"limit": 100})).json()
            metrics = (await http.get("/metrics")).text
    with monitor.db() as db:
        rows = db.execute("SELECT length(payload), size FROM dead_letters ORDER BY id").fetchall()
        big = db.execute("SELECT length(payload), size FROM dead_letters WHERE size = 60000"
                         ).fetchall()
    assert len(rows) == 10
    assert big == []  # the oldest five, the big one among them, were pruned
    assert letters["count"] == 15
    assert "infusion_monitor_dead_letters_pruned_total 5" in metrics


async def test_a_big_dead_letter_keeps_its_first_4_kib_and_its_size(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    async with publisher(mosquitto) as mqtt:
        await mqtt.publish(f"infusion/{monitor.site}/chair-1/vitals", b"y" * 60_000, qos=1)

    def kept() -> list[Any]:
        with monitor.db() as db:
            return list(db.execute("SELECT length(payload), size FROM dead_letters").fetchall())
    await eventually(kept)
    assert [tuple(row) for row in kept()] == [(4096, 60_000)]
    async with monitor.api() as http:
        [letter] = (await http.get("/api/dead-letters")).json()["dead_letters"]
    assert letter["size"] == 60_000


async def test_a_fever_reaches_the_board_as_temp_high_and_is_stored_and_20_is_implausible(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    session_id = await monitor.open_session("chair-6")
    async with websockets.connect(monitor.ws_url()) as socket:
        stream = messages(socket)
        assert (await anext(stream))["type"] == "snapshot"
        async with publisher(mosquitto) as mqtt:
            topic = f"infusion/{monitor.site}/chair-6/vitals"
            await mqtt.publish(topic, reading(1, hr=80, temp=39.6), qos=1)
            await mqtt.publish(topic, reading(2, hr=80, temp=20), qos=1)
        shown: list[dict[str, Any]] = []
        alarms: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(5):
            async for message in stream:
                if message["type"] == "reading":
                    shown.append(message["vitals"])
                elif message["type"] == "alarm":
                    alarms[message["code"]] = message
                if len(shown) == 2 and "implausible" in alarms:
                    break
    assert shown == [{"hr": 80, "temp": 39.6}, {"hr": 80, "temp": 20}]
    fever = alarms["temp_high"]
    assert (fever["priority"], fever["kind"], fever["vital"]) == ("high", "physiological", "temp")
    assert (fever["value"], fever["limit"], fever["session_id"]) == (39.6, 39.0, session_id)
    artefact = alarms["implausible"]
    assert (artefact["kind"], artefact["vital"], artefact["value"]) == ("technical", "temp", 20)

    def stored() -> bool:
        with monitor.db() as db:
            rows = db.execute("SELECT seq, temp FROM readings WHERE session_id = ? ORDER BY seq",
                              (session_id,)).fetchall()
        return [tuple(row) for row in rows] == [(1, 39.6), (2, 20.0)]
    await eventually(stored)
