"""Exports carry every vital of the registry; body temperature as the example."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from monitor.api.exports import to_csv, to_html, to_jsonl
from monitor.api.fhir import to_fhir
from monitor.app.reports import PEAK_HIGH, _peaks
from monitor.domain.readings import BedRef, Reading
from monitor.domain.review import series_of, statistics
from monitor.domain.sessions import Session

INFUSION_MS = 1_795_269_600_000  # 2026-11-21T14:00:00Z
SESSION = Session("s-1", BedRef("clinic", "chair-1"), "p-1", "infusion",
                  {"baseline": INFUSION_MS - 600_000, "infusion": INFUSION_MS},
                  "ketamine-default", baseline={"hr": 70, "temp": 36.8})
READINGS = [
    Reading(SESSION.bed, "mon-1", seq, ts, round(datetime.fromisoformat(ts).timestamp() * 1000),
            vitals) for seq, ts, vitals in [
        (1, "2026-11-21T14:00:00.000Z", {"hr": 72.0, "spo2": 98.0, "temp": 36.9}),
        (2, "2026-11-21T14:01:00.000Z",
         {"hr": 74.0, "sbp": 128.0, "dbp": 80.0, "map": 96.0, "temp": 38.4}),
        (3, "2026-11-21T14:02:00.000Z", {"hr": 73.0}),
    ]
]
NO_CARE: dict[str, Any] = {"infusion": None, "assessments": [], "adverse_events": [],
                           "fit_to_leave": {"checklist": None, "override": None}}


def test_csv_has_a_temp_column_and_jsonl_keeps_it() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(READINGS))))
    assert [row["temp"] for row in rows] == ["36.9", "38.4", ""]
    lines = [json.loads(line) for line in to_jsonl(READINGS).splitlines()]
    assert [line["vitals"].get("temp") for line in lines] == [36.9, 38.4, None]


def test_fhir_has_a_body_temperature_observation_in_celsius_that_validates() -> None:
    document = to_fhir(SESSION, READINGS, NO_CARE)
    Bundle.model_validate(document)
    temps = [e["resource"] for e in document["entry"]
             if e["resource"]["code"]["coding"][0]["code"] == "8310-5"]
    assert [t["valueQuantity"] for t in temps] == [
        {"value": value, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"}
        for value in (36.9, 38.4)]
    assert temps[0]["code"]["coding"][0] == {
        "system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"}
    assert temps[0]["category"][0]["coding"][0]["code"] == "vital-signs"


def test_the_report_gives_temp_statistics_a_peak_and_a_chart() -> None:
    data = series_of(READINGS)
    peaks = _peaks(data, SESSION.baseline, INFUSION_MS)
    assert PEAK_HIGH["temp"] is True
    assert peaks["temp"]["value"] == 38.4
    assert peaks["temp"]["change_from_baseline"] == 1.6
    report: dict[str, Any] = {
        "session": {"patient_ref": "p-1", "site": "clinic", "bed": "chair-1",
                    "profile": "ketamine-default", "phase_started_ms": {"infusion": INFUSION_MS}},
        "readings": len(READINGS), "vitals": {v: statistics(s) for v, s in data.items()},
        "baseline": dict(SESSION.baseline), "peaks": peaks, "outside_limits": [],
        "alarms": [], "notes": [], "discharge": {"minutes_after_infusion": None},
    }
    page = to_html(report, READINGS)
    assert report["vitals"]["temp"]["max"] == 38.4
    assert "<td>temp</td><td>2</td><td>36.9</td><td>38.4</td>" in page
    assert "<td>temp</td><td>36.8</td><td>38.4</td><td>1.6</td>" in page
    assert "<figcaption>Body temperature</figcaption>" in page
    assert page.count("<svg") == 6  # HR, SpO2, RR, EtCO2, blood pressure, temperature


def test_the_report_names_an_alarm_by_its_onset_and_worst_values_and_who_was_paged() -> None:
    alarm = {"raised_ms": INFUSION_MS + 1_800_000, "code": "sbp_high", "priority": "high",
             "value": 150.0, "onset_value": 181.0, "worst_value": 196.0, "limit": 180.0,
             "paged": ["charge-nurse", "lead-mail"], "acknowledged_by": "nurse-kim",
             "time_to_ack_s": 42.0, "cleared_ms": INFUSION_MS + 2_400_000}
    report: dict[str, Any] = {
        "session": {"patient_ref": "p-1", "site": "clinic", "bed": "chair-1",
                    "profile": "ketamine-default", "phase_started_ms": {"infusion": INFUSION_MS}},
        "readings": 0, "vitals": {}, "baseline": {}, "peaks": {}, "outside_limits": [],
        "alarms": [alarm], "notes": [], "discharge": {"minutes_after_infusion": None},
    }
    page = to_html(report, [])
    assert ("<th>onset value</th><th>worst value</th><th>limit</th><th>paged</th>" in page)
    assert ("<td>sbp_high</td><td>high</td><td>181.0</td><td>196.0</td><td>180.0</td>"
            "<td>charge-nurse, lead-mail</td><td>nurse-kim</td>" in page)
    assert "<td>150.0</td>" not in page  # the value at clearing is within the limit
