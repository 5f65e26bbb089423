"""A session as a FHIR R4 ``collection`` Bundle (validated in the tests with fhir.resources.R4B).

It holds:

- one vital-signs ``Observation`` per value, coded LOINC with UCUM units;
- one ``MedicationAdministration`` for the infusion: the drug coded RxNorm
  and SNOMED CT (ketamine), the period it ran, the dose given, the rate it
  ended at, and every pump event as a note;
- one survey ``Observation`` per score (assessments and the fit-to-leave
  score), coded in the monitor's own code system (``SCORE_SYSTEM``) and, where
  a standard code exists, in that too;
- one ``AdverseEvent`` per adverse event, coded in the monitor's own code
  system (``ADVERSE_EVENT_SYSTEM``), ketamine as the suspect.

The patient is the pseudonymous reference, never a name; users appear by
name only (``display``). The README says where each code came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from monitor.domain.assessments import ADVERSE_KINDS, SCALES
from monitor.domain.discharge import DISCHARGE_SCALES
from monitor.domain.readings import UNITS, Reading
from monitor.domain.sessions import Session
from monitor.domain.vitals import REGISTRY

LOINC: Final[Mapping[str, tuple[str, str]]] = {
    v.name: (v.loinc, v.loinc_display) for v in REGISTRY}
"""LOINC code and display of each vital."""
PATIENT_SYSTEM: Final = "urn:infusion-monitor:patient-ref"
UCUM: Final = "http://unitsofmeasure.org"
SNOMED: Final = "http://snomed.info/sct"
RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
SCORE_SYSTEM: Final = "https://infusion-monitor.example/fhir/CodeSystem/scores"
"""The monitor's code system for scores: the scale's name in the API is the code."""
ADVERSE_EVENT_SYSTEM: Final = "https://infusion-monitor.example/fhir/CodeSystem/adverse-events"
"""The monitor's code system for adverse events: the kind's name in the API is the code."""
INTERVENTION_EXTENSION: Final = (
    "https://infusion-monitor.example/fhir/StructureDefinition/adverse-event-intervention")
"""What was given for an adverse event (drug, dose, route as text): R4 has no element for it."""
DRUGS: Final[Mapping[str, list[dict[str, str]]]] = {
    "ketamine": [{"system": RXNORM, "code": "6130", "display": "ketamine"},
                 {"system": SNOMED, "code": "373464007", "display": "Ketamine"}],
}
"""Codings of the drugs the monitor knows; another drug is exported by name only."""
STANDARD_SCORE_CODES: Final[Mapping[str, dict[str, str]]] = {
    "rass": {"system": SNOMED, "code": "1345050000",
             "display": "Richmond Agitation Sedation Scale score"},
}
"""Standard codes of scores, beside the monitor's own (LOINC has none for these scales)."""
INTRAVENOUS: Final = {"system": SNOMED, "code": "47625008", "display": "Intravenous route"}
STATUS: Final[Mapping[str, str]] = {
    "running": "in-progress", "paused": "on-hold", "stopped": "completed"}
"""MedicationAdministration.status by the pump's state."""
CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
SEVERITY: Final = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": CATEGORY, "code": code, "display": display}]}]


def _vital_signs(session: Session, subject: dict[str, Any],
                 readings: Sequence[Reading]) -> list[dict[str, Any]]:
    entries = []
    for r in readings:
        for vital, value in r.vitals.items():
            code, display = LOINC[vital]
            entries.append({
                "fullUrl": f"urn:uuid:{session.id}-{r.device_id}-{r.seq}-{vital}",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": _category("vital-signs", "Vital Signs"),
                    "code": {"coding": [{"system": "http://loinc.org", "code": code,
                                         "display": display}], "text": display},
                    "subject": subject,
                    "effectiveDateTime": r.ts,
                    "valueQuantity": {"value": value, "unit": UNITS[vital],
                                      "system": UCUM, "code": UNITS[vital]},
                    "device": {"display": r.device_id},
                },
            })
    return entries


def _rate_note(event: Mapping[str, Any]) -> str:
    said = str(event["event"])
    if event["rate_mg_per_kg_h"] is not None:
        said += f" at {event['rate_mg_per_kg_h']:g} mg/kg/h ({event['rate_ml_per_h']:g} mL/h)"
    return said + (f": {event['reason']}" if event["reason"] else "")


def _administration(session: Session, subject: dict[str, Any],
                    infusion: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The infusion, once started."""
    if infusion is None or infusion["started_ms"] is None:
        return None
    plan, events = infusion["plan"], infusion["events"]
    rate = next(e["rate_mg_per_kg_h"] for e in reversed(events)
                if e["rate_mg_per_kg_h"] is not None)
    period = {"start": _iso(infusion["started_ms"])}
    if infusion["stopped_ms"] is not None:
        period["end"] = _iso(infusion["stopped_ms"])
    return {
        "fullUrl": f"urn:uuid:{session.id}-infusion",
        "resource": {
            "resourceType": "MedicationAdministration",
            "status": STATUS[infusion["state"]],
            "medicationCodeableConcept": {"coding": DRUGS.get(plan["drug"], []),
                                          "text": plan["drug"]},
            "subject": subject,
            "effectivePeriod": period,
            "performer": [{"actor": {"display": events[0]["user"]}}],
            "note": [{"authorString": e["user"], "time": _iso(e["at_ms"]),
                      "text": _rate_note(e)} for e in events],
            "dosage": {
                "text": (f"{plan['dose_mg_per_kg']:g} mg/kg over {plan['duration_min']:g} min "
                         f"for {plan['weight_kg']:g} kg ({plan['total_mg']:g} mg) at "
                         f"{plan['concentration_mg_per_ml']:g} mg/mL"),
                "route": {"coding": [INTRAVENOUS], "text": "IV"},
                "dose": {"value": infusion["given_mg"], "unit": "mg", "system": UCUM,
                         "code": "mg"},
                "rateQuantity": {"value": rate, "unit": "mg/kg/h", "system": UCUM,
                                 "code": "mg/kg/h"},
            },
        },
    }


def _score(session: Session, subject: dict[str, Any], n: int, scored: Mapping[str, Any],
           name: str) -> dict[str, Any]:
    """Observation ``n`` of the scores: ``scored`` has the scale, value, time and user."""
    scale, value = scored["scale"], scored["value"]
    coding = [{"system": SCORE_SYSTEM, "code": scale, "display": name}]
    if scale in STANDARD_SCORE_CODES:
        coding.append(STANDARD_SCORE_CODES[scale])
    valued: dict[str, Any] = ({"valueBoolean": bool(value)} if scale.endswith("_given")
                              else {"valueInteger": value})
    return {
        "fullUrl": f"urn:uuid:{session.id}-score-{n}",
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "category": _category("survey", "Survey"),
            "code": {"coding": coding, "text": name},
            "subject": subject,
            "effectiveDateTime": _iso(scored["at_ms"]),
            "performer": [{"display": scored["user"]}],
            **valued,
        },
    }


def _scores(session: Session, subject: dict[str, Any],
            care: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = [_score(session, subject, n, a, SCALES[a["scale"]][2])
               for n, a in enumerate(care["assessments"])]
    checklist = care["fit_to_leave"]["checklist"]
    if checklist is not None:
        entries.append(_score(session, subject, len(entries),
                              {**checklist, "value": checklist["score"]},
                              DISCHARGE_SCALES[checklist["scale"]]))
    return entries


def _adverse_events(session: Session, subject: dict[str, Any], care: Mapping[str, Any],
                    administration: dict[str, Any] | None) -> list[dict[str, Any]]:
    infusion = care["infusion"]
    drug = infusion["plan"]["drug"] if infusion else "ketamine"
    suspect = ({"reference": administration["fullUrl"]} if administration
               else {"display": drug})
    entries = []
    for n, e in enumerate(care["adverse_events"]):
        given = " ".join(e["intervention"][k] for k in ("drug", "dose", "route")
                         if e["intervention"].get(k))
        resource: dict[str, Any] = {
            "resourceType": "AdverseEvent",
            "actuality": "actual",
            "event": {"coding": [{"system": ADVERSE_EVENT_SYSTEM, "code": e["kind"],
                                  "display": ADVERSE_KINDS[e["kind"]]}],
                      "text": ADVERSE_KINDS[e["kind"]]},
            "subject": subject,
            "date": _iso(e["at_ms"]),
            "recorder": {"display": e["user"]},
            "severity": {"coding": [{"system": SEVERITY, "code": e["severity"],
                                     "display": e["severity"].capitalize()}]},
            "suspectEntity": [{"instance": suspect}],
        }
        if e["outcome"]:
            resource["outcome"] = {"text": e["outcome"]}
        if given:
            resource["extension"] = [{"url": INTERVENTION_EXTENSION, "valueString": given}]
        entries.append({"fullUrl": f"urn:uuid:{session.id}-adverse-event-{n}",
                        "resource": resource})
    return entries


def to_fhir(session: Session, readings: Sequence[Reading],
            care: Mapping[str, Any]) -> dict[str, Any]:
    """The Bundle: vital signs, then the infusion, the scores and the adverse events.

    ``care`` is the report's care part (``Reports.care``).
    """
    subject = {"identifier": {"system": PATIENT_SYSTEM, "value": session.patient_ref}}
    administration = _administration(session, subject, care["infusion"])
    entries = [*_vital_signs(session, subject, readings),
               *([administration] if administration else []),
               *_scores(session, subject, care),
               *_adverse_events(session, subject, care, administration)]
    return {"resourceType": "Bundle", "type": "collection",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"), "entry": entries}
