"""A whole ketamine session as the clinic runs it, through the API, against real Mosquitto.

Create it with weight and dose; start the infusion and change its rate;
score, and record an adverse event; stop and observe; sign the fit-to-leave
checklist and end it. Then the patient's series across three sessions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.settings import Settings
from tests.integration.conftest import (
    Mosquitto,
    RunningMonitor,
    eventually,
    monitor_running,
    publisher,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CALM = {"sbp": 120, "dbp": 75, "hr": 70, "rr": 14, "spo2": 98, "etco2": 36}


@pytest.fixture
def quick_discharge(monitor_settings: Settings, tmp_path: Path) -> Settings:
    """The default profile, with no minimum observation and no hold before discharge."""
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text((ROOT / "config" / "thresholds.toml").read_text()
                          .replace("min_observation_min = 30", "min_observation_min = 0")
                          .replace("hold_min = 15", "hold_min = 0"))
    return monitor_settings.model_copy(update={"thresholds_file": thresholds})


class Chair:
    """One chair's device publishing readings, each with the next seq."""

    def __init__(self, mosquitto: Mosquitto, site: str, bed: str) -> None:
        self.mosquitto, self.topic, self.seq = mosquitto, f"infusion/{site}/{bed}/vitals", 0

    async def send(self, count: int = 1, *, calm: bool = True, **vitals: float) -> None:
        """Readings timed now (to the ms), so each falls in the phase it was sent in;
        ``calm``: every vital at a calm value unless given."""
        async with publisher(self.mosquitto) as mqtt:
            for _ in range(count):
                self.seq += 1
                ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                await mqtt.publish(self.topic, json.dumps({
                    "v": 1, "device_id": "mon-1", "seq": self.seq, "ts": ts,
                    "vitals": {**(CALM if calm else {}), **vitals}}), qos=1)


async def ok(response: httpx.Response, code: int = 200) -> Any:
    assert response.status_code == code, response.text
    return response.json()


async def open_alarm(http: httpx.AsyncClient, session_id: str, code: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def raised() -> bool:
        alarms = (await http.get("/api/alarms", params={"state": "open"})).json()["alarms"]
        found[:] = [a for a in alarms if a["session_id"] == session_id and a["code"] == code]
        return bool(found)
    await eventually(raised)
    return found[0]


async def test_a_whole_session_from_plan_to_fit_to_leave(
    quick_discharge: Settings, mosquitto: Mosquitto, site: str
) -> None:
    async with monitor_running(quick_discharge, site) as monitor:
        nurse = monitor.api(await monitor.token("nurse-kim", "nurse"))
        viewer = monitor.api(await monitor.token("dr-view", "viewer"))
        async with monitor.api() as http, nurse, viewer:
            sid = (await ok(await nurse.post("/api/sessions", json={
                "site": site, "bed": "chair-1", "patient_ref": "pt-41", "weight_kg": 80,
                "dose_mg_per_kg": 0.5, "duration_min": 40}), 201))["id"]
            session = await ok(await http.get(f"/api/sessions/{sid}"))
            assert session["plan"] == {
                "weight_kg": 80.0, "drug": "ketamine", "dose_mg_per_kg": 0.5,
                "duration_min": 40.0, "concentration_mg_per_ml": 1.0, "total_mg": 40.0,
                "rate_mg_per_kg_h": 0.75, "rate_ml_per_h": 60.0}
            half = await nurse.post("/api/sessions", json={
                "site": site, "bed": "chair-2", "patient_ref": "pt-41", "weight_kg": 80})
            assert half.status_code == 422
            assert "weight_kg, dose_mg_per_kg and duration_min together" in half.text

            chair = Chair(mosquitto, site, "chair-1")
            await chair.send(3)
            await eventually(lambda: len(monitor.db().execute(
                "SELECT * FROM readings WHERE session_id = ?", (sid,)).fetchall()) == 3)

            by_phase = await nurse.post(f"/api/sessions/{sid}/phase", json={
                "phase": "infusion", "acknowledge_warnings": True})
            assert by_phase.status_code == 409
            assert "follows its pump" in by_phase.json()["detail"]
            refused = await viewer.post(f"/api/sessions/{sid}/infusion", json={"event": "start"})
            assert refused.status_code == 403
            started = await ok(await nurse.post(f"/api/sessions/{sid}/infusion",
                                                json={"event": "start"}), 201)
            assert started["status"]["state"] == "running"
            infusing = await ok(await http.get(f"/api/sessions/{sid}"))
            assert (infusing["phase"], infusing["infusion"]["state"]) == ("infusion", "running")
            assert infusing["assessment_due_ms"] > 0
            no_reason = await nurse.post(f"/api/sessions/{sid}/infusion",
                                         json={"event": "rate", "rate_mg_per_kg_h": 0.5})
            assert no_reason.status_code == 409
            assert "rate needs a reason" in no_reason.json()["detail"]
            await chair.send(1, sbp=136, hr=84)
            slower = await ok(await nurse.post(f"/api/sessions/{sid}/infusion", json={
                "event": "rate", "rate_mg_per_kg_h": 0.5, "reason": "SBP rising"}), 201)
            assert slower["status"]["rate_mg_per_kg_h"] == 0.5
            assert slower["status"]["rate_ml_per_h"] == 40.0

            for scale, value in (("moaas", 4), ("cadss6", 9), ("nausea", 1), ("anxiety", 3)):
                await ok(await nurse.post(f"/api/sessions/{sid}/assessments",
                                          json={"scale": scale, "value": value}), 201)
            wrong_scale = await nurse.post(f"/api/sessions/{sid}/assessments",
                                           json={"scale": "rass", "value": -1})
            assert wrong_scale.status_code == 422
            assert "scores sedation with moaas, not rass" in wrong_scale.json()["detail"]
            await ok(await nurse.post(f"/api/sessions/{sid}/assessments",
                                      json={"scale": "moaas", "value": 2}), 201)
            deep = await open_alarm(http, sid, "deep_sedation")
            assert (deep["priority"], deep["value"], deep["limit"]) == ("high", 2, 2)
            await ok(await nurse.post(f"/api/sessions/{sid}/assessments",
                                      json={"scale": "moaas", "value": 4}), 201)
            await ok(await nurse.post(f"/api/alarms/{deep['id']}/ack"))

            event = await ok(await nurse.post(f"/api/sessions/{sid}/adverse-events", json={
                "kind": "nausea_vomiting", "severity": "moderate",
                "intervention": {"drug": "ondansetron", "dose": "4 mg", "route": "IV"},
                "outcome": "resolved in 10 min"}), 201)
            assert (event["user"], event["intervention"]["drug"]) == ("nurse-kim", "ondansetron")

            stopped = await ok(await nurse.post(f"/api/sessions/{sid}/infusion", json={
                "event": "stop", "reason": "completed"}), 201)
            assert stopped["status"]["state"] == "stopped"
            start, rate, stop = stopped["events"]
            assert [start["event"], rate["event"], stop["event"]] == ["start", "rate", "stop"]
            assert (stop["user"], stop["reason"]) == ("nurse-kim", "completed")
            given = 80 * (0.75 * (rate["at_ms"] - start["at_ms"])
                          + 0.5 * (stop["at_ms"] - rate["at_ms"])) / 3_600_000
            assert stopped["status"]["given_mg"] == pytest.approx(given, abs=0.05)
            assert (await ok(await http.get(f"/api/sessions/{sid}")))["phase"] == "observation"

            unsigned = await nurse.post(f"/api/sessions/{sid}/phase", json={"phase": "ended"})
            assert unsigned.status_code == 409
            assert "no signed fit-to-leave checklist" in unsigned.json()["detail"]
            checklist = {"scale": "aldrete", "score": 10, "escort": False, "nausea": False}
            no_escort = await nurse.post(f"/api/sessions/{sid}/discharge", json=checklist)
            assert no_escort.status_code == 409
            assert "no escort present" in no_escort.json()["detail"]

            await chair.send(2)
            signed: list[dict[str, Any]] = []

            async def sign() -> bool:
                answer = await nurse.post(f"/api/sessions/{sid}/discharge",
                                          json={**checklist, "escort": True})
                if answer.status_code == 201:
                    signed.append(answer.json())
                return bool(signed)
            await eventually(sign)
            assert (signed[0]["user"], signed[0]["score"]) == ("nurse-kim", 10)
            ended = await ok(await nurse.post(f"/api/sessions/{sid}/phase", json={
                "phase": "ended", "acknowledge_alarms": True}))
            assert ended["phase"] == "ended"

            late = await ok(await nurse.post(f"/api/sessions/{sid}/assessments",
                                             json={"scale": "nausea", "value": 0}), 201)
            assert late["scale"] == "nausea"
            audit = await ok(await http.get(f"/api/sessions/{sid}/audit"))
            actions = [change["action"] for change in audit["changes"]]
            for action in ("infusion", "assessment", "adverse_event", "discharge_signed"):
                assert action in actions, actions
            series = await ok(await viewer.get("/api/patients/pt-41"))
    first = series["sessions"][0]
    assert first["session_id"] == sid
    assert first["plan"]["dose_mg_per_kg"] == 0.5
    assert first["given_mg"] == stopped["status"]["given_mg"]
    assert first["lowest_sedation"]["scale"] == "moaas"
    assert first["lowest_sedation"]["value"] == 2
    assert first["peak_dissociation"]["value"] == 9
    assert first["alarms"]["high"] >= 1
    assert [e["kind"] for e in first["adverse_events"]] == ["nausea_vomiting"]
    assert first["min_to_fit_to_leave"] is not None
    assert first["peaks"]["sbp"]["peak"] == 136
    assert first["peaks"]["sbp"]["change"] == 16
    assert first["peaks"]["hr"]["change"] == 14


async def test_a_patients_series_and_limits_carried_from_the_last_session(
    monitor: RunningMonitor, mosquitto: Mosquitto, site: str
) -> None:
    rules = {"delay_s": 0, "rules": [{"when": ">=", "limit": 170, "priority": "high"}]}
    async with monitor.api() as http:
        ids = []
        for n in range(3):
            body = {"site": site, "bed": "chair-3", "patient_ref": "pt-7", "weight_kg": 60 + n,
                    "dose_mg_per_kg": 0.5 + n * 0.1, "duration_min": 40,
                    "limits_from_last": n > 0}
            sid = (await ok(await http.post("/api/sessions", json=body), 201))["id"]
            ids.append(sid)
            if n == 0:
                await ok(await http.post(f"/api/sessions/{sid}/thresholds",
                                         json={"vital": "sbp", "rules": rules}))
            else:
                session = await ok(await http.get(f"/api/sessions/{sid}"))
                assert session["overrides"]["sbp"]["rules"][0]["limit"] == 170
                audit = await ok(await http.get(f"/api/sessions/{sid}/audit"))
                carried = [c for c in audit["changes"] if c["action"] == "thresholds"]
                assert carried[0]["detail"]["origin"] == {"patient_preset": ids[n - 1]}
            await ok(await http.post(f"/api/sessions/{sid}/phase", json={"phase": "ended"}))
        series = await ok(await http.get("/api/patients/pt-7"))
        unknown = await http.get("/api/patients/pt-nobody")
        first_ever = await http.post("/api/sessions", json={
            "site": site, "bed": "chair-4", "patient_ref": "pt-new", "limits_from_last": True})
    assert [s["session_id"] for s in series["sessions"]] == ids
    assert [s["plan"]["dose_mg_per_kg"] for s in series["sessions"]] == [0.5, 0.6, 0.7]
    assert unknown.status_code == 404
    assert first_ever.status_code == 422
    assert "no earlier session" in first_ever.json()["detail"]


async def test_the_care_record_and_its_alarms_survive_a_restart(
    monitor_settings: Settings, site: str
) -> None:
    async with monitor_running(monitor_settings, site) as monitor, monitor.api() as http:
        sid = (await ok(await http.post("/api/sessions", json={
            "site": site, "bed": "chair-6", "patient_ref": "pt-6", "weight_kg": 70,
            "dose_mg_per_kg": 0.5, "duration_min": 40}), 201))["id"]
        await ok(await http.post(f"/api/sessions/{sid}/infusion", json={
            "event": "start", "acknowledge_warnings": True}), 201)
        await ok(await http.post(f"/api/sessions/{sid}/assessments",
                                 json={"scale": "moaas", "value": 1}), 201)
        deep = await open_alarm(http, sid, "deep_sedation")
    async with monitor_running(monitor_settings, site) as monitor, monitor.api() as http:
        tiles: list[dict[str, Any]] = []

        async def infusing() -> bool:
            board = (await http.get("/api/board")).json()
            tiles[:] = [b for b in board["beds"] if b["bed"] == "chair-6"]
            return bool(tiles) and (tiles[0]["session"].get("infusion") or {}).get(
                "state") == "running"
        await eventually(infusing)
        again = await open_alarm(http, sid, "deep_sedation")
        paused = await ok(await http.post(f"/api/sessions/{sid}/infusion", json={
            "event": "pause", "reason": "deep sedation"}), 201)
        restart = await http.post(f"/api/sessions/{sid}/infusion", json={"event": "start"})
    [tile] = tiles
    assert tile["session"]["plan"]["weight_kg"] == 70
    assert tile["session"]["infusion"]["planned_mg"] == 35.0
    assert tile["session"]["assessment_due_ms"] > 0
    assert again["id"] == deep["id"]
    assert [e["event"] for e in paused["events"]] == ["start", "pause"]
    assert restart.status_code == 409
    assert "cannot start an infusion that is paused" in restart.json()["detail"]


async def test_the_bp_measured_just_before_the_session_opens_is_the_sessions_and_is_judged(
    monitor: RunningMonitor, mosquitto: Mosquitto, site: str
) -> None:
    chair = Chair(mosquitto, site, "chair-8")
    await chair.send(1, sbp=186, dbp=104, hr=72)
    await chair.send(1, calm=False, hr=73, spo2=97)  # no BP: the BP is still the one taken
    await eventually(lambda: len(monitor.db().execute(
        "SELECT * FROM readings WHERE bed = 'chair-8'").fetchall()) == 2)
    async with monitor.api() as http:
        sid = (await ok(await http.post("/api/sessions", json={
            "site": site, "bed": "chair-8", "patient_ref": "pt-8"}), 201))["id"]
        high = await open_alarm(http, sid, "sbp_high")

        async def adopted() -> bool:
            readings = (await http.get(f"/api/sessions/{sid}/vitals")).json()["readings"]
            return [r["vitals"].get("sbp") for r in readings] == [186]
        await eventually(adopted)
    assert (high["priority"], high["value"]) == ("high", 186)
