"""Review and storage against a real InfluxDB (Debian's influxdb) and SQLite."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiomqtt
import pytest
from fhir.resources.R4B.bundle import Bundle
from pydantic import SecretStr

from device_sim.device import ChairSpec, Publish, SimulatedMonitor
from monitor.adapters.influx import InfluxVitals
from monitor.api.exports import CSV_COLUMNS
from monitor.settings import Settings
from tests.integration.conftest import (
    BOOTSTRAP,
    Mosquitto,
    RunningMonitor,
    eventually,
    monitor_running,
)
from tests.servers import Influx, influxdb

pytestmark = pytest.mark.integration

HOUR_S = 3600


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influx]:
    with influxdb(tmp_path_factory.mktemp("influx")) as server:
        yield server


def with_store(settings: Settings, store: str, influx: Influx) -> Settings:
    if store == "sqlite":
        return settings
    return settings.model_copy(update={
        "store": "influx", "influx_url": influx.url, "influx_db": f"db_{settings.mqtt_sites[0]}",
        "influx_username": influx.user, "influx_password": SecretStr(influx.password)})


async def publish_session(mosquitto: Mosquitto, site: str, bed: str, seconds: int,
                          start_s: float, seed: int = 4) -> list[dict[str, Any]]:
    """A simulated session of ``seconds`` with device time from ``start_s``, sent at once."""
    device = SimulatedMonitor(ChairSpec(site, bed, f"mon-{bed}", seed))
    sent = []
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, max_inflight_messages=1000) as mqtt:
        for _ in range(seconds):
            emissions = device.step(lambda: start_s + device.t_s)
            for emission in emissions:
                if isinstance(emission, Publish):
                    sent.append(json.loads(emission.payload))
            await asyncio.gather(*(mqtt.publish(e.topic, e.payload, qos=1)
                                   for e in emissions if isinstance(e, Publish)))
    return sent


async def stored(monitor: RunningMonitor, session_id: str) -> list[dict[str, Any]]:
    async with monitor.api() as http:
        response = await http.get(f"/api/sessions/{session_id}/vitals")
        readings: list[dict[str, Any]] = response.json()["readings"]
        return readings


@pytest.mark.parametrize("store", ["sqlite", "influx"])
async def test_an_hour_long_session_reads_back_complete(
    monitor_settings: Settings, mosquitto: Mosquitto, influx: Influx, site: str, store: str
) -> None:
    async with monitor_running(with_store(monitor_settings, store, influx), site) as monitor:
        session_id = await monitor.open_session("chair-1")
        sent = await publish_session(mosquitto, site, "chair-1", HOUR_S, time.time() - HOUR_S)

        async def complete() -> bool:
            return len(await stored(monitor, session_id)) == len(sent)
        await eventually(complete, timeout_s=30)
        readings = await stored(monitor, session_id)
        async with monitor.api() as http:
            report = (await http.get(f"/api/sessions/{session_id}/report")).json()
    assert len(sent) == HOUR_S
    assert [r["seq"] for r in readings] == [s["seq"] for s in sent]
    assert [r["vitals"] for r in readings] == [s["vitals"] for s in sent]
    assert [r["ts"] for r in readings] == [s["ts"] for s in sent]
    artefacts = sum(1 for s in sent if "hr" in s.get("flags", {}))
    assert report["vitals"]["hr"]["n"] == HOUR_S - artefacts
    assert report["vitals"]["sbp"]["n"] == HOUR_S // 300
    assert report["vitals"]["temp"]["n"] == HOUR_S // 60
    assert report["readings"] == HOUR_S


async def test_influxdb_down_for_a_stretch_loses_nothing_and_raises_the_outage(
    monitor_settings: Settings, mosquitto: Mosquitto, influx: Influx, site: str
) -> None:
    settings = with_store(monitor_settings, "influx", influx)
    async with monitor_running(settings, site) as monitor:
        session_id = await monitor.open_session("chair-2")
        start = time.time() - 600
        sent = await publish_session(mosquitto, site, "chair-2", 200, start)
        influx.stop()
        try:
            sent += await publish_session(mosquitto, site, "chair-2", 300, start + 200, seed=5)
            async with monitor.api() as http:
                async def outage_raised() -> bool:
                    alarms = (await http.get("/api/alarms", params={"state": "active"})).json()
                    return any(a["code"] == "store_outage" for a in alarms["alarms"])
                await eventually(outage_raised, timeout_s=15)
                ready = await http.get("/readyz")
                metrics = (await http.get("/metrics")).text
        finally:
            influx.start()
        sent += await publish_session(mosquitto, site, "chair-2", 100, start + 500, seed=6)

        async def complete() -> bool:
            return len(await stored(monitor, session_id)) == len(sent)
        await eventually(complete, timeout_s=30)
        readings = await stored(monitor, session_id)
        async with monitor.api() as http:
            cleared = (await http.get("/api/alarms", params={"state": "cleared"})).json()
            after = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["store"] is False
    assert "infusion_monitor_store_up 0" in metrics
    outbox = [line for line in metrics.splitlines() if line.startswith("infusion_monitor_outbox ")]
    assert float(outbox[0].split()[1]) > 0
    assert sorted((r["device_id"], r["seq"], r["ts"]) for r in readings) == sorted(
        (s["device_id"], s["seq"], s["ts"]) for s in sent)
    assert len(readings) == 600
    assert any(a["code"] == "store_outage" for a in cleared["alarms"])
    assert after.status_code == 200


async def test_exports_fhir_validates_and_csv_has_its_columns(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    session_id = await monitor.open_session("chair-3")
    sent = await publish_session(mosquitto, monitor.site, "chair-3", 301, time.time() - 400)

    async def complete() -> bool:
        return len(await stored(monitor, session_id)) == len(sent)
    await eventually(complete)
    async with monitor.api() as http:
        fhir = await http.get(f"/api/sessions/{session_id}/report", params={"format": "fhir"})
        table = await http.get(f"/api/sessions/{session_id}/report", params={"format": "csv"})
        page = await http.get(f"/api/sessions/{session_id}/report", params={"format": "html"})
    bundle = Bundle.model_validate(fhir.json())
    assert bundle.type == "collection"
    codes = {e.resource.code.coding[0].code for e in bundle.entry}  # type: ignore[union-attr]
    assert codes == {"8867-4", "59408-5", "9279-1", "19891-1", "8480-6", "8462-4", "8478-0",
                     "8310-5"}
    first = fhir.json()["entry"][0]["resource"]
    temps = [e["resource"] for e in fhir.json()["entry"]
             if e["resource"]["code"]["coding"][0]["code"] == "8310-5"]
    assert len(temps) == 6  # the simulator's temperature, once a minute
    assert {(t["valueQuantity"]["unit"], t["valueQuantity"]["code"]) for t in temps} == {
        ("Cel", "Cel")}
    assert all(35 < t["valueQuantity"]["value"] < 38 for t in temps)
    assert first["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert first["subject"]["identifier"]["value"] == "p-chair-3"
    rows = list(csv.reader(io.StringIO(table.text)))
    assert tuple(rows[0]) == CSV_COLUMNS == ("ts", "seq", "device_id", "hr", "spo2", "rr",
                                             "etco2", "sbp", "dbp", "map", "temp")
    assert sum(1 for row in rows[1:] if row[-1]) == 6
    assert len(rows) == 302
    assert table.headers["content-type"].startswith("text/csv")
    assert page.text.count("<svg") == 6
    assert "<figcaption>Body temperature</figcaption>" in page.text
    assert "Time outside limits" in page.text


async def test_what_if_compares_a_stricter_limit_with_what_was_raised(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    session_id = await monitor.open_session("chair-4")
    sent = await publish_session(mosquitto, monitor.site, "chair-4", 120, time.time() - 200)

    async def complete() -> bool:
        return len(await stored(monitor, session_id)) == len(sent)
    await eventually(complete)
    strict = {"delay_s": 5, "rules": [{"when": ">", "limit": 40, "priority": "medium"}]}
    async with monitor.api() as http:
        result = (await http.post("/api/review/what-if", json={
            "profile": "ketamine-default", "overrides": {"hr": strict},
            "session_ids": [session_id]})).json()
        unknown = await http.post("/api/review/what-if", json={"profile": "nope"})
    [row] = result["sessions"]
    assert row["raised"] == {}
    assert row["would_raise"]["hr_high"] == {"medium": 1}
    assert result["total_would_raise"]["medium"] >= 1
    assert unknown.status_code == 422


async def test_aged_readings_are_pruned_and_the_report_stays(
    monitor_settings: Settings, mosquitto: Mosquitto, site: str
) -> None:
    async with monitor_running(monitor_settings, site) as monitor:
        session_id = await monitor.open_session("chair-5")
        sent = await publish_session(mosquitto, site, "chair-5", 90, time.time() - 3 * 86400)

        async def complete() -> bool:
            return len(await stored(monitor, session_id)) == len(sent)
        await eventually(complete)
        async with monitor.api() as http:
            await http.post(f"/api/sessions/{session_id}/phase", json={"phase": "ended"})
    kept = monitor_settings.model_copy(update={"retention_days": 1.0})
    async with monitor_running(kept, site) as monitor:
        async def pruned() -> bool:
            return await stored(monitor, session_id) == []
        await eventually(pruned)
        async with monitor.api() as http:
            report = (await http.get(f"/api/sessions/{session_id}/report")).json()
    assert report["readings"] == 90
    assert report["vitals"]["hr"]["n"] > 80


async def test_monitor_report_prints_a_session_from_the_command_line(
    monitor_settings: Settings, mosquitto: Mosquitto, site: str
) -> None:
    async with monitor_running(monitor_settings, site) as monitor:
        session_id = await monitor.open_session("chair-6")
        sent = await publish_session(mosquitto, site, "chair-6", 60, time.time() - 100)

        async def complete() -> bool:
            return len(await stored(monitor, session_id)) == len(sent)
        await eventually(complete)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= {"MONITOR_DATA_DIR": str(monitor_settings.data_dir),
            "MONITOR_BOOTSTRAP_TOKEN": BOOTSTRAP}

    def report(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "monitor", "report", *args],
                              env=env, capture_output=True, text=True, check=False)
    as_json, as_csv, missing = (report(session_id), report(session_id, "--format", "csv"),
                                report("nope"))
    assert json.loads(as_json.stdout)["session"]["id"] == session_id
    assert json.loads(as_json.stdout)["readings"] == 60
    assert as_csv.stdout.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert len(as_csv.stdout.splitlines()) == 61
    assert missing.returncode == 1
    assert "no session nope" in missing.stderr


async def test_shutdown_ships_the_outbox_before_exit(
    monitor_settings: Settings, mosquitto: Mosquitto, influx: Influx, site: str
) -> None:
    settings = with_store(monitor_settings, "influx", influx)
    async with monitor_running(settings, site) as monitor:
        session_id = await monitor.open_session("chair-7")
        influx.stop()
        try:
            sent = await publish_session(mosquitto, site, "chair-7", 150, time.time() - 300)

            async def in_outbox() -> bool:
                async with monitor.api() as http:
                    text = (await http.get("/metrics")).text
                return f"infusion_monitor_outbox {len(sent)}" in text
            await eventually(in_outbox)
        finally:
            influx.start()
    # The monitor has exited: whatever it did not ship before that is not in InfluxDB.
    reader = InfluxVitals(influx.url, settings.influx_db, username=influx.user,
                          password=influx.password)
    try:
        stored = await reader.session_readings(session_id)
    finally:
        await reader.close()
    assert len(stored) == len(sent) == 150


@pytest.mark.parametrize("store", ["sqlite", "influx"])
async def test_two_readings_of_one_device_in_one_millisecond_are_both_kept(
    monitor_settings: Settings, mosquitto: Mosquitto, influx: Influx, site: str, store: str
) -> None:
    async with monitor_running(with_store(monitor_settings, store, influx), site) as monitor:
        session_id = await monitor.open_session("chair-7")
        ts = "2026-11-21T14:03:07.250Z"
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as mqtt:
            for seq, hr in ((1, 72.0), (2, 130.0)):
                await mqtt.publish(f"infusion/{site}/chair-7/vitals", json.dumps({
                    "v": 1, "device_id": "mon-7", "seq": seq, "ts": ts, "vitals": {"hr": hr},
                }).encode(), qos=1)

        async def both() -> bool:
            return len(await stored(monitor, session_id)) == 2
        await eventually(both)
        readings = await stored(monitor, session_id)
    assert sorted((r["seq"], r["vitals"]["hr"]) for r in readings) == [(1, 72.0), (2, 130.0)]
    assert {r["ts"] for r in readings} == {ts}
