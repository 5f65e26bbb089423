"""The monitor end to end on either record store: SQLite, or a real PostgreSQL.

A session as the clinic runs it, through the API and real Mosquitto, then a
restart that must find it all again; and no log line naming the database's
password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from monitor.settings import Settings, SettingsError
from monitor.stores import record_store
from tests.integration.conftest import (
    Mosquitto,
    eventually,
    free_port,
    monitor_running,
    publisher,
    start_up_output,
)
from tests.servers import Postgres
from tests.servers import postgres as start_postgres

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CALM = {"sbp": 120, "dbp": 75, "hr": 70, "rr": 14, "spo2": 98, "etco2": 36}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    with start_postgres(tmp_path_factory.mktemp("postgres")) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, monitor_settings: Settings, server: Postgres,
             tmp_path: Path) -> Settings:
    """The integration settings with a quick discharge, on the backend of the parameter."""
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text((ROOT / "config" / "thresholds.toml").read_text()
                          .replace("min_observation_min = 30", "min_observation_min = 0")
                          .replace("hold_min = 15", "hold_min = 0"))
    update: dict[str, Any] = {"thresholds_file": thresholds}
    if request.param == "postgres":
        url = server.create_database("t" + uuid.uuid4().hex[:12])
        update |= {"database_url": SecretStr(url), "store": "postgres"}
    return monitor_settings.model_copy(update=update)


async def send(mosquitto: Mosquitto, topic: str, seqs: range, **vitals: float) -> None:
    async with publisher(mosquitto) as mqtt:
        for seq in seqs:
            ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            await mqtt.publish(topic, json.dumps({
                "v": 1, "device_id": "mon-1", "seq": seq, "ts": ts,
                "vitals": {**CALM, **vitals}}), qos=1)


async def ok(response: httpx.Response, code: int = 200) -> Any:
    assert response.status_code == code, response.text
    return response.json()


async def test_a_session_is_recorded_and_found_again_after_a_restart(
    settings: Settings, mosquitto: Mosquitto, site: str
) -> None:
    topic = f"infusion/{site}/chair-1/vitals"
    async with monitor_running(settings, site) as monitor, monitor.api() as http:
        sid = (await ok(await http.post("/api/sessions", json={
            "site": site, "bed": "chair-1", "patient_ref": "pt-7", "weight_kg": 70,
            "dose_mg_per_kg": 0.5, "duration_min": 40}), 201))["id"]
        await send(mosquitto, topic, range(1, 4))

        async def stored() -> bool:
            vitals = await ok(await http.get(f"/api/sessions/{sid}/vitals"))
            return len(vitals["readings"]) == 3
        await eventually(stored)
        await ok(await http.post(f"/api/sessions/{sid}/infusion", json={"event": "start"}), 201)
        await ok(await http.post(f"/api/sessions/{sid}/assessments",
                                 json={"scale": "moaas", "value": 2}), 201)
        [deep] = [a for a in (await ok(await http.get("/api/alarms",
                                                      params={"state": "active"})))["alarms"]
                  if a["session_id"] == sid]
        await ok(await http.post(f"/api/alarms/{deep['id']}/ack"))
        await ok(await http.post(f"/api/sessions/{sid}/assessments",
                                 json={"scale": "moaas", "value": 4}), 201)
        await ok(await http.post(f"/api/sessions/{sid}/adverse-events", json={
            "kind": "nausea_vomiting", "severity": "mild", "outcome": "resolved"}), 201)
        await ok(await http.post(f"/api/sessions/{sid}/notes", json={"text": "calm"}), 201)
        await ok(await http.post(f"/api/sessions/{sid}/infusion",
                                 json={"event": "stop", "reason": "completed"}), 201)
    async with monitor_running(settings, site) as monitor, monitor.api() as http:
        session = await ok(await http.get(f"/api/sessions/{sid}"))
        assert (session["phase"], session["plan"]["weight_kg"]) == ("observation", 70.0)
        [kept] = [a for a in (await ok(await http.get("/api/alarms")))["alarms"]
                  if a["session_id"] == sid]
        assert (kept["id"], kept["code"]) == (deep["id"], "deep_sedation")
        assert kept["acknowledged_by"] is not None
        await send(mosquitto, topic, range(4, 6))

        async def five() -> bool:
            vitals = await ok(await http.get(f"/api/sessions/{sid}/vitals"))
            return [r["seq"] for r in vitals["readings"]] == [1, 2, 3, 4, 5]
        await eventually(five)
        await ok(await http.post(f"/api/sessions/{sid}/discharge", json={
            "scale": "aldrete", "score": 10, "escort": True, "nausea": False}), 201)
        ended = await ok(await http.post(f"/api/sessions/{sid}/phase", json={
            "phase": "ended", "acknowledge_alarms": True}))
        assert ended["phase"] == "ended"
        report = await ok(await http.get(f"/api/sessions/{sid}/report",
                                         params={"format": "json"}))
        patient = await ok(await http.get("/api/patients/pt-7"))
    assert [s["session_id"] for s in patient["sessions"]] == [sid]
    assert report["session"]["id"] == sid
    assert [n["text"] for n in report["notes"]] == ["calm"]
    assert [e["kind"] for e in report["adverse_events"]] == ["nausea_vomiting"]
    if settings.database_url is None:
        assert (settings.data_dir / "monitor.db").is_file()
    else:
        assert not (settings.data_dir / "monitor.db").exists()
        with psycopg.connect(settings.database_url.get_secret_value()) as db:
            rows = db.execute("SELECT seq FROM readings WHERE session_id = %s ORDER BY seq",
                              (sid,)).fetchall()
        assert [row[0] for row in rows] == [1, 2, 3, 4, 5]


def test_monitor_run_logs_no_database_password(
    tmp_path: Path, mosquitto: Mosquitto, server: Postgres
) -> None:
    url = server.create_database("t" + uuid.uuid4().hex[:12])
    text = start_up_output({
        "MONITOR_MQTT_URL": mosquitto.url, "MONITOR_HTTP_PORT": str(free_port()),
        "MONITOR_DATA_DIR": str(tmp_path / "var"), "MONITOR_DATABASE_URL": url,
        "MONITOR_STORE": "postgres",
    })
    assert "schema migration 0004_clinical_workflow applied" in text, text
    assert "postgresql://monitor@127.0.0.1" in text
    assert server.password not in text


@pytest.mark.parametrize(("update", "refusal"), [
    ({"database_url": SecretStr("postgresql://u:pw-never-shown@h/db")}, "set store"),
    ({"store": "postgres"}, "set database_url"),
    ({"database_url": SecretStr("mysql://u:pw-never-shown@h/db"), "store": "postgres"},
     "expected postgresql://"),
])
def test_a_record_store_the_vitals_cannot_go_with_is_refused(
    monitor_settings: Settings, update: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(SettingsError, match=refusal) as refused:
        record_store(monitor_settings.model_copy(update=update))
    assert "pw-never-shown" not in str(refused.value)


def test_monitor_token_works_on_postgresql_from_any_folder(
    tmp_path: Path, server: Postgres
) -> None:
    url = server.create_database("t" + uuid.uuid4().hex[:12])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= {"MONITOR_DATABASE_URL": url, "MONITOR_STORE": "postgres"}
    monitor = str(Path(sys.executable).parent / "monitor")
    created = subprocess.run([monitor, "token", "create", "--name", "nurse-pg", "--role", "nurse"],
                             check=False, cwd=tmp_path, env=env, text=True,
                             capture_output=True, timeout=60)
    listed = subprocess.run([monitor, "token", "list"], check=True, cwd=tmp_path, env=env,
                            text=True, capture_output=True, timeout=60)
    assert created.returncode == 0, created.stderr
    assert "for nurse-pg (nurse)" in created.stdout
    assert "\tnurse-pg\tnurse" in listed.stdout
    assert not (tmp_path / "var").exists()
    assert server.password not in created.stdout + created.stderr
