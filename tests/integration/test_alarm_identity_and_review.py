"""Through a real Mosquitto: a borrowed device id cannot mute a bed, and a what-if
agrees with the alarms the board raised."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.conftest import Mosquitto, RunningMonitor, eventually, publisher

pytestmark = pytest.mark.integration


def payload(device_id: str, seq: int, ts_s: float, **vitals: float) -> bytes:
    millis = round(ts_s * 1000) % 1000
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_s)) + f".{millis:03d}Z"
    return json.dumps({"v": 1, "device_id": device_id, "seq": seq, "ts": ts,
                       "vitals": vitals}).encode()


async def open_alarms(monitor: RunningMonitor) -> list[dict[str, Any]]:
    async with monitor.api() as http:
        alarms: list[dict[str, Any]] = (
            await http.get("/api/alarms", params={"state": "open"})).json()["alarms"]
    return alarms


async def test_a_borrowed_device_id_is_refused_and_raises_device_conflict_on_both_beds(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    await monitor.open_session("bed-01")
    await monitor.open_session("bed-02")
    real, forged = (f"infusion/{monitor.site}/{bed}/vitals" for bed in ("bed-02", "bed-01"))
    start = time.time()
    async with publisher(mosquitto) as mqtt:
        await mqtt.publish(real, payload("mon-b2", 0, start, spo2=97), qos=1)

        async def bound() -> bool:
            async with monitor.api() as http:
                board = (await http.get("/api/board")).json()
            return any(b["bed"] == "bed-02" and b["vitals"] for b in board["beds"])
        await eventually(bound)
        # bed-01's account publishes with bed-02's device id and its coming seq and ts...
        for seq in range(1, 6):
            await mqtt.publish(forged, payload("mon-b2", seq, start + seq, spo2=97), qos=1)
        # ...then bed-02's patient desaturates, with those very seq and ts.
        for seq in range(1, 6):
            await mqtt.publish(real, payload("mon-b2", seq, start + seq, spo2=80), qos=1)

    async def loud() -> bool:
        found = {(a["bed"], a["code"], a["priority"]) for a in await open_alarms(monitor)}
        return {("bed-02", "spo2_low", "high"), ("bed-02", "device_conflict", "medium"),
                ("bed-01", "device_conflict", "medium")} <= found
    await eventually(loud)
    async with monitor.api() as http:
        letters = (await http.get("/api/dead-letters")).json()["dead_letters"]
        metrics = (await http.get("/metrics")).text
    refused = [d for d in letters if d["topic"] == forged]
    assert len(refused) == 5
    assert "device mon-b2 belongs to bed" in refused[0]["reason"]
    assert "infusion_monitor_device_conflicts_total 5" in metrics


async def test_a_what_if_with_the_live_profile_counts_what_the_board_raised(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    session_id = await monitor.open_session("chair-6")
    # HR over 110 for 15 s, back within the 3/min hysteresis for 3 s, over for 15 s
    # more, then calm: one medium alarm on the board (the old numpy what-if said two).
    hr = [80.0] * 5 + [112.0] * 15 + [109.0] * 3 + [112.0] * 15 + [80.0] * 10
    start = time.time() - len(hr)
    async with publisher(mosquitto) as mqtt:
        for seq, value in enumerate(hr):
            await mqtt.publish(f"infusion/{monitor.site}/chair-6/vitals",
                               payload("mon-6", seq, start + seq, hr=value), qos=1)

    async def judged() -> bool:
        async with monitor.api() as http:
            response = await http.get(f"/api/sessions/{session_id}/vitals")
        return len(response.json()["readings"]) == len(hr)
    await eventually(judged)
    async with monitor.api() as http:
        result = (await http.post("/api/review/what-if", json={
            "profile": "ketamine-default", "session_ids": [session_id]})).json()
    [row] = result["sessions"]
    assert row["raised"] == {"hr_high": {"medium": 1}}
    assert row["would_raise"] == row["raised"]
