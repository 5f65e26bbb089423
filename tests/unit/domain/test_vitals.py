"""The vital-sign registry is the one list of vitals: everything else derives from it."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from monitor.api.exports import CSV_COLUMNS
from monitor.api.fhir import LOINC
from monitor.api.report_charts import panels
from monitor.domain import vitals as registry
from monitor.domain.discharge import NAMES as DISCHARGE_NAMES
from monitor.domain.limits import PLAUSIBLE, ProfileError, load_profiles
from monitor.domain.readings import CONTINUOUS_VITALS, UNITS, VITALS
from monitor.domain.vitals import BY_NAME, NAMES, REGISTRY, cells, charts
from tests.unit.domain.engine_harness import default_profile

SOURCE = Path(registry.__file__)


def test_the_lists_of_vitals_are_derived_from_the_registry() -> None:
    assert VITALS == NAMES == tuple(v.name for v in REGISTRY)
    assert tuple(v.name for v in REGISTRY if v.continuous) == CONTINUOUS_VITALS
    assert {v.name: v.ucum for v in REGISTRY} == UNITS
    assert {v.name: v.plausible for v in REGISTRY} == PLAUSIBLE
    assert {v.name: (v.loinc, v.loinc_display) for v in REGISTRY} == LOINC
    assert ("ts", "seq", "device_id", *NAMES) == CSV_COLUMNS
    assert {name: BY_NAME[name].label for name in DISCHARGE_NAMES} == DISCHARGE_NAMES


def test_todays_vitals_keep_their_codes_and_bounds() -> None:
    assert {v.name: v.loinc for v in REGISTRY if v.name != "temp"} == {
        "hr": "8867-4", "spo2": "59408-5", "rr": "9279-1", "etco2": "19891-1",
        "sbp": "8480-6", "dbp": "8462-4", "map": "8478-0"}
    assert set(CONTINUOUS_VITALS) == {"hr", "spo2", "rr", "etco2"}
    assert PLAUSIBLE["spo2"] == (0, 100)
    assert UNITS["sbp"] == "mm[Hg]"


@pytest.mark.parametrize("vital", REGISTRY, ids=lambda v: v.name)
def test_each_entry_is_usable(vital: registry.Vital) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9]{0,15}", vital.name)
    assert re.fullmatch(r"\d{1,6}-\d", vital.loinc)
    low, high = vital.plausible
    assert low < high
    assert vital.chart_range[0] < vital.chart_range[1]
    assert vital.precision >= 0
    assert vital.fresh_s > 0
    assert re.fullmatch(r"#[0-9a-f]{6}", vital.colour)
    assert not (vital.continuous and vital.nibp)


def test_names_are_unique_and_every_vital_has_default_rules() -> None:
    assert len(NAMES) == len(set(NAMES))
    profile = default_profile()
    assert [name for name in NAMES if not profile.rules_for(name)] == []


def test_cells_and_charts_group_the_vitals_in_registry_order() -> None:
    assert [(c.key, [v.name for v in shown]) for c, shown in cells()][:5] == [
        ("hr", ["hr"]), ("spo2", ["spo2"]), ("rr", ["rr"]), ("etco2", ["etco2"]),
        ("bp", ["sbp", "dbp"])]
    for cell, shown in cells():
        if len(shown) == 1:  # the tile's data-vital is the vital's own name
            assert cell.key == shown[0].name
    for places in (cells(), charts()):
        keys = [place.key for place, _ in places]
        assert len(keys) == len(set(keys))
    assert charts()[0][0].key == "continuous"
    assert [v.name for v in dict(charts())[registry.BP_CHART]] == ["sbp", "dbp"]


def test_the_report_draws_a_chart_per_continuous_vital_and_one_per_group_of_spot_values() -> None:
    drawn = [([v.name for v in panel.vitals], panel.caption, panel.axis_label)
             for panel in panels()]
    assert drawn == [
        (["hr"], "HR", "HR (/min)"),
        (["spo2"], "SpO₂", "SpO₂ (%)"),
        (["rr"], "RR", "RR (/min)"),
        (["etco2"], "EtCO₂", "EtCO₂ (mmHg)"),
        (["sbp", "dbp"], "Blood pressure", "SBP, DBP (mmHg)"),
        (["temp"], "Body temperature", "Temp (°C)"),
    ]


def test_a_threshold_document_naming_an_unknown_vital_is_refused() -> None:
    document = {"profiles": {"p": {"vitals": {"glucose": {"delay_s": 0, "rules": [
        {"when": ">", "limit": 1, "priority": "high"}]}}}}}
    with pytest.raises(ProfileError, match=r"profiles\.p\.vitals\.glucose.*'glucose' is not a "
                                           r"known vital \(hr, spo2"):
        load_profiles(document, "t.toml")


def test_the_registry_imports_only_the_standard_library() -> None:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
