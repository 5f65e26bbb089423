"""A session's readings and report as CSV, JSONL, a FHIR R4 Bundle, or printable HTML.

The FHIR Bundle holds one vital-signs Observation per value, coded LOINC with
UCUM units; the patient is the pseudonymous reference, never a name. The HTML
report draws its charts as inline SVG, so it prints and archives as one file.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from monitor.api.messages import reading_record
from monitor.domain.readings import UNITS, VITALS, Reading
from monitor.domain.sessions import Session
from monitor.domain.vitals import REGISTRY, Vital, charts

LOINC: Final[Mapping[str, tuple[str, str]]] = {
    v.name: (v.loinc, v.loinc_display) for v in REGISTRY}
"""LOINC code and display of each vital."""
CSV_COLUMNS: Final = ("ts", "seq", "device_id", *VITALS)
PATIENT_SYSTEM: Final = "urn:infusion-monitor:patient-ref"
STYLE: Final = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}"
    "table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
    "td,th{border:1px solid #ccc;padding:.2rem .5rem}"
    "figure{margin:0 0 1rem}@media print{body{margin:0}}"
)


def to_csv(readings: Sequence[Reading]) -> str:
    """One row per reading: ``ts,seq,device_id`` and a column per vital."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in readings:
        writer.writerow([r.ts, r.seq, r.device_id, *(r.vitals.get(v, "") for v in VITALS)])
    return out.getvalue()


def to_jsonl(readings: Sequence[Reading]) -> str:
    """One JSON reading per line (``device-sim --replay`` plays it back)."""
    return "".join(json.dumps(reading_record(r)) + "\n" for r in readings)


def to_fhir(session: Session, readings: Sequence[Reading]) -> dict[str, Any]:
    """A FHIR R4 ``collection`` Bundle of vital-sign Observations."""
    entries = []
    for r in readings:
        for vital, value in r.vitals.items():
            code, display = LOINC[vital]
            entries.append({
                "fullUrl": f"urn:uuid:{session.id}-{r.device_id}-{r.seq}-{vital}",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [{"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs", "display": "Vital Signs"}]}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": code,
                                         "display": display}], "text": display},
                    "subject": {"identifier": {"system": PATIENT_SYSTEM,
                                               "value": session.patient_ref}},
                    "effectiveDateTime": r.ts,
                    "valueQuantity": {"value": value, "unit": UNITS[vital],
                                      "system": "http://unitsofmeasure.org", "code": UNITS[vital]},
                    "device": {"display": r.device_id},
                },
            })
    return {"resourceType": "Bundle", "type": "collection",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"), "entry": entries}


def _svg_chart(readings: Sequence[Reading], vitals: Sequence[Vital],
               title: str, y_range: tuple[float, float], *, points: bool = False) -> str:
    width, height, pad = 900, 220, 30
    times = [r.ts_ms / 1000 for r in readings]
    if not times:
        return f"<p>{html.escape(title)}: no readings.</p>"
    t0, t1 = min(times), max(times) or 1
    span = max(t1 - t0, 1.0)
    low, high = y_range

    def x(t: float) -> float:
        return pad + (t - t0) / span * (width - 2 * pad)

    def y(v: float) -> float:
        return height - pad - (min(max(v, low), high) - low) / (high - low) * (height - 2 * pad)

    shapes = []
    for vital in vitals:
        name, colour = vital.name, vital.colour
        xy = [(x(t), y(r.vitals[name])) for t, r in zip(times, readings, strict=True)
              if name in r.vitals]
        if points:
            shapes += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in xy]
        elif xy:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in xy)
            shapes.append(f'<polyline fill="none" stroke="{colour}" points="{path}"/>')
    legend = " ".join(f'<tspan fill="{v.colour}">{html.escape(v.label)}</tspan>' for v in vitals)
    return (f'<figure><figcaption>{html.escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">'
            f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" '
            f'fill="none" stroke="#ccc"/><text x="{pad}" y="{pad - 8}" font-size="12">{legend} '
            f'({low:g}-{high:g})</text>{"".join(shapes)}</svg></figure>')


def _table(rows: Sequence[Sequence[Any]], head: Sequence[str]) -> str:
    def cell(value: Any) -> str:  # noqa: ANN401 - any printable value
        return html.escape("" if value is None else str(value))
    header = "".join(f"<th>{cell(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _value(kept: float | None, last: float | None) -> float | None:
    """A value the alarm record kept, or for an alarm stored before it kept them, its last."""
    return kept if kept is not None else last


def _when(ms: int | None) -> str:
    return "" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S UTC")


def _report_charts() -> list[tuple[tuple[Vital, ...], str, tuple[float, float], bool]]:
    """The registry's charts, one per value range: (vitals, title, range, as points).

    Spot values (not continuous) are drawn as points, each one a measurement.
    """
    out = []
    for chart, vitals in charts():
        ranges = dict.fromkeys(v.chart_range for v in vitals)
        for y_range in ranges:
            drawn = tuple(v for v in vitals if v.chart_range == y_range)
            title = chart.title
            if len(ranges) > 1:  # one chart of the page drawn as several: name what each shows
                units = {v.unit for v in drawn}
                title = ", ".join(v.label for v in drawn) + (
                    f" {units.pop()}" if len(units) == 1 else "")
            out.append((drawn, title, y_range, not any(v.continuous for v in drawn)))
    return out


def to_html(report: Mapping[str, Any], readings: Sequence[Reading]) -> str:
    """The report as one printable HTML page with charts."""
    s = report["session"]
    stats = _table([[v, *(st[k] for k in ("n", "min", "max", "mean", "median", "p5", "p95"))]
                    for v, st in report["vitals"].items()],
                   ["vital", "n", "min", "max", "mean", "median", "p5", "p95"])
    peaks = _table([[v, report["baseline"].get(v), p["value"], p["change_from_baseline"],
                     p["minutes_into_infusion"]] for v, p in report["peaks"].items()],
                   ["vital", "baseline", "peak", "change", "min into infusion"])
    outside = _table([[o["vital"], f'{o["when"]} {o["limit"]}', o["priority"], o["minutes"]]
                      for o in report["outside_limits"] if o["minutes"] > 0],
                     ["vital", "limit", "priority", "minutes outside"])
    # Onset and worst: the value at clearing is back within the limit and says nothing.
    alarms = _table([[_when(a["raised_ms"]), a["code"], a["priority"],
                      _value(a.get("onset_value"), a["value"]),
                      _value(a.get("worst_value"), a["value"]), a["limit"],
                      ", ".join(a.get("paged", [])), a["acknowledged_by"], a["time_to_ack_s"],
                      _when(a["cleared_ms"])]
                     for a in report["alarms"]],
                    ["raised", "alarm", "priority", "onset value", "worst value", "limit",
                     "paged", "acknowledged by", "to ack (s)", "cleared"])
    notes = "".join(f"<li>{_when(n['at_ms'])} {html.escape(n['user'])}: "
                    f"{html.escape(n['text'])}</li>" for n in report["notes"])
    ready = report["discharge"]["minutes_after_infusion"]
    charts = "".join(_svg_chart(readings, vitals, title, y_range, points=points)
                     for vitals, title, y_range, points in _report_charts())
    phases = ", ".join(f"{p} {_when(at)}" for p, at in s["phase_started_ms"].items())
    where = html.escape(f"{s['site']}/{s['bed']}")
    readiness = "not reached" if ready is None else f"{ready} min into observation"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Session report {html.escape(s["patient_ref"])}</title>
<style>{STYLE}</style></head><body>
<h1>Session report: {html.escape(s["patient_ref"])} at {where}</h1>
<p>Profile {html.escape(s["profile"])}. Phases: {html.escape(phases)}.
{report["readings"]} readings. Discharge readiness: {readiness}.</p>
{charts}<h2>Vitals</h2>{stats}<h2>Baseline and peak</h2>{peaks}
<h2>Time outside limits</h2>{outside}<h2>Alarms</h2>{alarms}<h2>Notes</h2><ul>{notes}</ul>
</body></html>"""
