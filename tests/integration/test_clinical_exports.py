"""The clinical workflow in the report and the exports, through the API, against real Mosquitto.

One session run as the clinic runs it (plan, infusion with a rate change,
scores, an adverse event, the signed checklist), and one ended by an admin
override; then the JSON and HTML report, the JSONL and CSV care records, and
the FHIR Bundle, validated with fhir.resources (R4B, the R4 shapes it uses).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from monitor.settings import Settings
from tests.integration.conftest import Mosquitto, eventually, monitor_running
from tests.integration.test_clinical_workflow import Chair, ok

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCORES = "https://infusion-monitor.example/fhir/CodeSystem/scores"


@pytest.fixture
def quick_discharge(monitor_settings: Settings, tmp_path: Path) -> Settings:
    """The default profile, with no minimum observation and no hold before discharge."""
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text((ROOT / "config" / "thresholds.toml").read_text()
                          .replace("min_observation_min = 30", "min_observation_min = 0")
                          .replace("hold_min = 15", "hold_min = 0"))
    return monitor_settings.model_copy(update={"thresholds_file": thresholds})


async def run_session(nurse: httpx.AsyncClient, chair: Chair, sid: str) -> None:
    """Start, slow down, score, record nausea, stop, and sign the checklist."""
    await chair.send(3)
    await ok(await nurse.post(f"/api/sessions/{sid}/infusion", json={"event": "start"}), 201)
    await ok(await nurse.post(f"/api/sessions/{sid}/infusion", json={
        "event": "rate", "rate_mg_per_kg_h": 0.5, "reason": "SBP rising"}), 201)
    for scale, value in (("moaas", 4), ("cadss6", 9), ("nausea", 1), ("anxiety", 3),
                         ("antiemetic_given", 1)):
        await ok(await nurse.post(f"/api/sessions/{sid}/assessments",
                                  json={"scale": scale, "value": value}), 201)
    await ok(await nurse.post(f"/api/sessions/{sid}/adverse-events", json={
        "kind": "nausea_vomiting", "severity": "moderate",
        "intervention": {"drug": "ondansetron", "dose": "4 mg", "route": "IV"},
        "outcome": "resolved in 10 min"}), 201)
    await ok(await nurse.post(f"/api/sessions/{sid}/infusion", json={
        "event": "stop", "reason": "completed"}), 201)
    await chair.send(2)

    async def sign() -> bool:
        answer = await nurse.post(f"/api/sessions/{sid}/discharge", json={
            "scale": "aldrete", "score": 10, "escort": True, "nausea": False})
        return answer.status_code == 201
    await eventually(sign)
    await ok(await nurse.post(f"/api/sessions/{sid}/phase", json={
        "phase": "ended", "acknowledge_alarms": True}))


async def test_the_report_and_exports_hold_the_clinical_workflow(
    quick_discharge: Settings, mosquitto: Mosquitto, site: str
) -> None:
    async with monitor_running(quick_discharge, site) as monitor:
        nurse = monitor.api(await monitor.token("nurse-kim", "nurse"))
        async with monitor.api() as admin, nurse:
            plan = {"site": site, "bed": "chair-1", "patient_ref": "pt-52", "weight_kg": 80,
                    "dose_mg_per_kg": 0.5, "duration_min": 40}
            sid = (await ok(await nurse.post("/api/sessions", json=plan), 201))["id"]
            await run_session(nurse, Chair(mosquitto, site, "chair-1"), sid)
            report = await ok(await admin.get(f"/api/sessions/{sid}/report"))
            page = await admin.get(f"/api/sessions/{sid}/report", params={"format": "html"})
            lines = await admin.get(f"/api/sessions/{sid}/report",
                                    params={"format": "jsonl", "records": "all"})
            replayable = await admin.get(f"/api/sessions/{sid}/report",
                                         params={"format": "jsonl"})
            table = await admin.get(f"/api/sessions/{sid}/report",
                                    params={"format": "csv", "records": "care"})
            both = await admin.get(f"/api/sessions/{sid}/report",
                                   params={"format": "csv", "records": "all"})
            fhir = await admin.get(f"/api/sessions/{sid}/report", params={"format": "fhir"})

            other = (await ok(await nurse.post("/api/sessions", json={
                **plan, "bed": "chair-2"}), 201))["id"]
            await Chair(mosquitto, site, "chair-2").send(3)
            await ok(await nurse.post(f"/api/sessions/{other}/infusion",
                                      json={"event": "start"}), 201)
            await ok(await admin.post(f"/api/sessions/{other}/phase", json={
                "phase": "ended", "acknowledge_alarms": True,
                "override_reason": "patient left against advice"}))
            overridden = await ok(await admin.get(f"/api/sessions/{other}/report"))
            overridden_page = await admin.get(f"/api/sessions/{other}/report",
                                              params={"format": "html"})

    infusion = report["infusion"]
    assert [e["event"] for e in infusion["events"]] == ["start", "rate", "stop"]
    assert [e["rate_ml_per_h"] for e in infusion["events"]] == [60.0, 40.0, None]
    assert infusion["events"][1]["reason"] == "SBP rising"
    start, rate, stop = (e["at_ms"] for e in infusion["events"])
    given = 80 * (0.75 * (rate - start) + 0.5 * (stop - rate)) / 3_600_000
    assert infusion["given_mg"] == pytest.approx(given, abs=0.05)
    assert [(a["scale"], a["value"], a["user"]) for a in report["assessments"]][:2] == [
        ("moaas", 4, "nurse-kim"), ("cadss6", 9, "nurse-kim")]
    [adverse] = report["adverse_events"]
    assert (adverse["kind"], adverse["intervention"]["drug"]) == ("nausea_vomiting", "ondansetron")
    signed = report["fit_to_leave"]["checklist"]
    assert (signed["user"], signed["score"], signed["escort"]) == ("nurse-kim", 10, True)
    assert report["fit_to_leave"]["override"] is None
    assert {"code": "hr_high", "vital": "hr", "when": ">", "limit": 120.0, "priority": "high",
            "relative": False} in report["limits"]

    html = page.text
    assert page.status_code == 200
    assert "<td>rate</td><td>0.5</td><td>40.0</td><td>nurse-kim</td><td>SBP rising</td>" in html
    assert "Nausea or vomiting</td><td>moderate</td><td>ondansetron 4 mg IV" in html
    assert "Checklist signed by nurse-kim" in html
    assert "@media print" in html
    assert html.count("<svg") == 6
    assert "time (UTC)" in html
    assert "HR (/min)" in html

    records = [json.loads(line) for line in lines.text.splitlines()]
    kinds = [r["record"] for r in records]
    assert kinds.count("reading") == 5
    assert kinds[5:] == ["plan", "infusion", "infusion", "infusion", "assessment",
                         "assessment", "assessment", "assessment", "assessment",
                         "adverse_event", "discharge"]
    assert records[-1]["signed"] is True
    assert records[-1]["user"] == "nurse-kim"
    assert all("record" not in json.loads(line) for line in replayable.text.splitlines())
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [row["record"] for row in rows] == kinds[5:]
    assert rows[2]["item"] == "rate"
    assert (rows[2]["value"], rows[2]["unit"], rows[2]["note"]) == ("0.5", "mg/kg/h", "SBP rising")
    assert rows[-2]["intervention"] == "ondansetron 4 mg IV"
    assert both.status_code == 422

    document = fhir.json()
    bundle = Bundle.model_validate(document)
    resources = [e["resource"] for e in document["entry"]]
    assert len(bundle.entry or []) == len(resources)
    [given_to] = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
    assert given_to["status"] == "completed"
    assert {(c["system"], c["code"]) for c in given_to["medicationCodeableConcept"]["coding"]} == {
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "6130"),
        ("http://snomed.info/sct", "373464007")}
    assert given_to["dosage"]["rateQuantity"] == {
        "value": 0.5, "unit": "mg/kg/h", "system": "http://unitsofmeasure.org",
        "code": "mg/kg/h"}
    assert given_to["dosage"]["dose"]["value"] == infusion["given_mg"]
    assert set(given_to["effectivePeriod"]) == {"start", "end"}
    scores = [r for r in resources if r["resourceType"] == "Observation"
              and r["category"][0]["coding"][0]["code"] == "survey"]
    assert [(s["code"]["coding"][0]["system"], s["code"]["coding"][0]["code"]) for s in scores] == [
        (SCORES, "moaas"), (SCORES, "cadss6"), (SCORES, "nausea"), (SCORES, "anxiety"),
        (SCORES, "antiemetic_given"), (SCORES, "aldrete")]
    assert [s.get("valueInteger", s.get("valueBoolean")) for s in scores] == [
        4, 9, 1, 3, True, 10]
    [event] = [r for r in resources if r["resourceType"] == "AdverseEvent"]
    assert event["event"]["coding"][0]["code"] == "nausea_vomiting"
    assert event["severity"]["coding"][0]["code"] == "moderate"
    assert event["suspectEntity"][0]["instance"]["reference"] == f"urn:uuid:{sid}-infusion"
    assert event["outcome"]["text"] == "resolved in 10 min"

    override = overridden["fit_to_leave"]["override"]
    assert overridden["fit_to_leave"]["checklist"] is None
    assert override["reason"] == "patient left against advice"
    assert "by admin override" in overridden_page.text
    assert "patient left against advice" in overridden_page.text
