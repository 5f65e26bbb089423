"""A session's readings and clinical record as CSV or JSONL, and its report as printable HTML.

The readings' CSV and JSONL are as ``device-sim --replay`` plays them back.
The clinical workflow's record (the infusion plan and events, scores,
adverse events, fit to leave) is exported as records of its own: JSONL lines
with a ``record`` field, or a CSV of one row per record (``CARE_COLUMNS``).
The HTML report draws its charts as inline SVG (matplotlib, in
:mod:`monitor.api.report_charts`), so it prints and archives as one file.
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
from monitor.api.report_charts import chart_svg, frame_of, panels
from monitor.domain.assessments import ADVERSE_KINDS, SCALES
from monitor.domain.discharge import DISCHARGE_SCALES
from monitor.domain.readings import VITALS, Reading
from monitor.domain.review import series_of

CSV_COLUMNS: Final = ("ts", "seq", "device_id", *VITALS)
CARE_COLUMNS: Final = ("record", "ts", "user", "item", "value", "unit", "severity",
                       "intervention", "outcome", "escort", "nausea", "note")
"""The care CSV: one row per record; ``item`` is the event, scale or kind."""
STYLE: Final = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#111}"
    "table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
    "td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}"
    "figure{margin:0 0 1rem}figure svg{width:100%;height:auto}figcaption{font-weight:600}"
    "@page{size:A4;margin:12mm}"
    "@media print{body{margin:0;max-width:none;font-size:9.5pt}h1{font-size:14pt}"
    "h2{font-size:11.5pt;break-after:avoid}figure,tr{break-inside:avoid}"
    "thead{display:table-header-group}table{width:100%}td,th{padding:.1rem .3rem}}"
)


def to_csv(readings: Sequence[Reading]) -> str:
    """One row per reading: ``ts,seq,device_id`` and a column per vital."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in readings:
        writer.writerow([r.ts, r.seq, r.device_id, *(r.vitals.get(v, "") for v in VITALS)])
    return out.getvalue()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def care_records(care: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The clinical workflow's record, one dict per record with its kind in ``record``.

    ``care`` is the report's care part (``Reports.care``). The records, in
    this order: ``plan`` (with the dose given), ``infusion`` (one per event),
    ``assessment``, ``adverse_event``, and ``discharge`` (the signed
    checklist, or the admin override that ended the session without one).
    """
    records: list[dict[str, Any]] = []
    infusion = care["infusion"]
    if infusion is not None:
        records.append({"record": "plan", **infusion["plan"], "given_mg": infusion["given_mg"]})
        records += [{"record": "infusion", "ts": _iso(e["at_ms"]),
                     **{k: e[k] for k in ("event", "rate_mg_per_kg_h", "rate_ml_per_h", "user",
                                          "reason")}}
                    for e in infusion["events"]]
    records += [{"record": "assessment", "ts": _iso(a["at_ms"]), "scale": a["scale"],
                 "value": a["value"], "user": a["user"]} for a in care["assessments"]]
    records += [{"record": "adverse_event", "ts": _iso(e["at_ms"]),
                 **{k: e[k] for k in ("kind", "severity", "intervention", "outcome", "note",
                                      "user")}}
                for e in care["adverse_events"]]
    checklist, override = care["fit_to_leave"]["checklist"], care["fit_to_leave"]["override"]
    if checklist is not None:
        records.append({"record": "discharge", "ts": _iso(checklist["at_ms"]), "signed": True,
                        **{k: checklist[k] for k in ("user", "scale", "score", "escort",
                                                     "nausea", "vitals")}})
    if override is not None:
        records.append({"record": "discharge", "ts": _iso(override["at_ms"]), "signed": False,
                        "user": override["user"], "override_reason": override["reason"]})
    return records


def to_jsonl(readings: Sequence[Reading], care: Mapping[str, Any] | None = None) -> str:
    """One JSON object per line.

    Without ``care``: the readings as they were sent (``device-sim --replay``
    plays them back). With it: every line has a ``record`` field, the
    readings' ``"reading"``, followed by the care records (:func:`care_records`).
    """
    if care is None:
        return "".join(json.dumps(reading_record(r)) + "\n" for r in readings)
    lines = [{"record": "reading", **reading_record(r)} for r in readings]
    return "".join(json.dumps(line) + "\n" for line in [*lines, *care_records(care)])


def _intervention(given: Mapping[str, str]) -> str:
    return " ".join(given[k] for k in ("drug", "dose", "route") if given.get(k))


def _care_row(record: Mapping[str, Any]) -> dict[str, Any]:
    kind = record["record"]
    row: dict[str, Any] = {"record": kind, "ts": record.get("ts", ""),
                           "user": record.get("user", "")}
    if kind == "plan":
        row |= {"item": record["drug"], "value": record["dose_mg_per_kg"], "unit": "mg/kg",
                "note": f"{record['weight_kg']:g} kg over {record['duration_min']:g} min at "
                        f"{record['rate_mg_per_kg_h']:g} mg/kg/h ({record['rate_ml_per_h']:g} "
                        f"mL/h); given {record['given_mg']:g} mg of {record['total_mg']:g} mg"}
    elif kind == "infusion":
        rate = record["rate_mg_per_kg_h"]
        row |= {"item": record["event"], "value": "" if rate is None else rate,
                "unit": "" if rate is None else "mg/kg/h", "note": record["reason"] or ""}
    elif kind == "assessment":
        row |= {"item": record["scale"], "value": record["value"]}
    elif kind == "adverse_event":
        row |= {"item": record["kind"], "severity": record["severity"],
                "intervention": _intervention(record["intervention"]),
                "outcome": record["outcome"] or "", "note": record["note"] or ""}
    elif record["signed"]:
        row |= {"item": record["scale"], "value": record["score"],
                "escort": str(record["escort"]).lower(), "nausea": str(record["nausea"]).lower(),
                "note": record["vitals"]}
    else:
        row |= {"item": "override", "note": record["override_reason"]}
    return row


def care_csv(care: Mapping[str, Any]) -> str:
    """The care records (:func:`care_records`) as CSV, one row each, columns ``CARE_COLUMNS``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CARE_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(_care_row(record) for record in care_records(care))
    return out.getvalue()


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


def _infusion_html(infusion: Mapping[str, Any] | None) -> str:
    if infusion is None:
        return "<p>No infusion plan recorded.</p>"
    plan = infusion["plan"]
    summary = (
        f"{plan['drug']} {plan['dose_mg_per_kg']:g} mg/kg over {plan['duration_min']:g} min "
        f"for {plan['weight_kg']:g} kg: {plan['total_mg']:g} mg at "
        f"{plan['rate_mg_per_kg_h']:g} mg/kg/h ({plan['rate_ml_per_h']:g} mL/h at "
        f"{plan['concentration_mg_per_ml']:g} mg/mL). Dose given: {infusion['given_mg']:g} mg "
        f"of {plan['total_mg']:g} mg; infusion {infusion['state'].replace('_', ' ')}.")
    events = _table([[_when(e["at_ms"]), e["event"], e["rate_mg_per_kg_h"], e["rate_ml_per_h"],
                      e["user"], e["reason"]] for e in infusion["events"]],
                    ["time", "event", "rate (mg/kg/h)", "rate (mL/h)", "user", "reason"])
    return f"<p>{html.escape(summary)}</p>{events}"


def _fit_to_leave_html(fit: Mapping[str, Any]) -> str:
    checklist, override = fit["checklist"], fit["override"]
    said = []
    if checklist is not None:
        said.append(
            f"Checklist signed by {checklist['user']} at {_when(checklist['at_ms'])}: "
            f"{DISCHARGE_SCALES[checklist['scale']]} {checklist['score']}; escort "
            f"{'present' if checklist['escort'] else 'absent'}; "
            f"{'nausea' if checklist['nausea'] else 'no nausea'}; vital signs: "
            f"{checklist['vitals']}.")
    if override is not None:
        said.append(f"Ended without a signed checklist by admin override: {override['user']} "
                    f"at {_when(override['at_ms'])}, reason: {override['reason']}.")
    return "".join(f"<p>{html.escape(line)}</p>" for line in said) or (
        "<p>No fit-to-leave checklist signed.</p>")


def _care_html(report: Mapping[str, Any]) -> str:
    """The clinical workflow's sections (absent from reports kept before it existed)."""
    if "fit_to_leave" not in report:
        return ""
    scores = _table([[_when(a["at_ms"]), SCALES[a["scale"]][2], a["value"], a["user"]]
                     for a in report["assessments"]], ["time", "scale", "score", "user"])
    adverse = _table([[_when(e["at_ms"]), ADVERSE_KINDS[e["kind"]], e["severity"],
                       _intervention(e["intervention"]), e["outcome"], e["note"], e["user"]]
                      for e in report["adverse_events"]],
                     ["time", "event", "severity", "intervention", "outcome", "note", "user"])
    return (f"<h2>Infusion</h2>{_infusion_html(report['infusion'])}"
            f"<h2>Assessments</h2>{scores}<h2>Adverse events</h2>{adverse}"
            f"<h2>Fit to leave</h2>{_fit_to_leave_html(report['fit_to_leave'])}")


def _charts_html(report: Mapping[str, Any], readings: Sequence[Reading]) -> str:
    data = series_of(readings)
    frame = frame_of(report["session"]["phase_started_ms"], data, report.get("limits", []),
                     report["alarms"])
    return "".join(f"<figure><figcaption>{html.escape(panel.caption)}</figcaption>"
                   f"{chart_svg(panel, data, frame)}</figure>" for panel in panels())


def to_html(report: Mapping[str, Any], readings: Sequence[Reading]) -> str:
    """The report as one printable HTML page (A4) with charts.

    Rendering the charts takes a while for a long session: call it from a
    worker thread, not the event loop.
    """
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
    phases = ", ".join(f"{p} {_when(at)}" for p, at in s["phase_started_ms"].items())
    where = html.escape(f"{s['site']}/{s['bed']}")
    readiness = "not reached" if ready is None else f"{ready} min into observation"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Session report {html.escape(s["patient_ref"])}</title>
<style>{STYLE}</style></head><body>
<h1>Session report: {html.escape(s["patient_ref"])} at {where}</h1>
<p>Profile {html.escape(s["profile"])}. Phases: {html.escape(phases)}.
{report["readings"]} readings. Discharge readiness: {readiness}.</p>
{_charts_html(report, readings)}{_care_html(report)}<h2>Vitals</h2>{stats}
<h2>Baseline and peak</h2>{peaks}<h2>Time outside limits</h2>{outside}
<h2>Alarms</h2>{alarms}<h2>Notes</h2><ul>{notes}</ul>
</body></html>"""
