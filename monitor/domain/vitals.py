"""The vital-sign registry: every vital the monitor knows, and what each part needs of it.

One :class:`Vital` per vital sign: its name on the wire, its label and unit
on screens, its UCUM unit and LOINC code for exports, the values a patient
can have, whether the bedside monitor sends it continuously, and where the
board and the charts show it. Every list of vitals elsewhere (payload
validation, alarm limits, storage columns, exports, the dashboard through
``GET /api/vitals``) is derived from :data:`REGISTRY`.

Adding a vital is one entry here, its default rules in
``config/thresholds.toml`` and, for SQLite, one migration adding its column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart of the session page and the HTML report; its vitals share the time axis.

    Attributes:
        key: Its id in the page (``chart-<key>``).
        title: Its heading.
    """

    key: str
    title: str


@dataclass(frozen=True, slots=True)
class Cell:
    """A place on a board tile; the values of its vitals are shown joined by ``/``.

    Attributes:
        key: Its ``data-vital`` in the page (the vital's name when it shows one).
        label: The label above the value.
    """

    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Vital:
    """One vital sign.

    Attributes:
        name: Its name in payloads, storage and alarm codes (``hr``).
        label: Its short label on screens (``HR``).
        unit: The unit shown on screens (``mmHg``).
        ucum: Its UCUM unit code, as in SenML and FHIR (``mm[Hg]``).
        loinc: Its LOINC code for FHIR Observations.
        loinc_display: The LOINC display name.
        plausible: The lowest and highest values a patient can have; outside
            them a value is an artefact (``implausible``), never judged.
        continuous: Sent about once a second (silence raises ``stale``);
            otherwise a spot value measured every few minutes.
        nibp: Measured by the blood-pressure cuff (``nibp_overdue`` applies).
        precision: Decimals shown.
        colour: Its colour in charts.
        chart: The chart it is drawn in, or None.
        chart_range: The default value range of its chart axis.
        cell: Where a board tile shows it, or None.
        fresh_s: How long the board shows a value as current.
        peak: Which extreme a session report gives as its peak, or None.
    """

    name: str
    label: str
    unit: str
    ucum: str
    loinc: str
    loinc_display: str
    plausible: tuple[float, float]
    continuous: bool
    precision: int
    colour: str
    chart: Chart | None
    chart_range: tuple[float, float]
    cell: Cell | None
    fresh_s: float
    peak: Literal["high", "low"] | None
    nibp: bool = False


CONTINUOUS_CHART: Final = Chart("continuous", "Heart rate, SpO₂, respiration, EtCO₂")
BP_CHART: Final = Chart("bp", "Blood pressure")
BP_CELL: Final = Cell("bp", "BP")
CONTINUOUS_FRESH_S: Final = 10.0
"""A continuous value older than this is not shown as current."""
SPOT_FRESH_S: Final = 15 * 60.0
"""A spot value (blood pressure, temperature) is shown with its age for this long."""

# Plausible bounds are wide on purpose: HR 0 (asystole), RR 0 (apnea), SpO2 45
# or BP 38/14 are real and must raise physiological alarms, not a technical one.
REGISTRY: Final[tuple[Vital, ...]] = (
    Vital("hr", "HR", "/min", "/min", "8867-4", "Heart rate", (0, 300),
          continuous=True, precision=0, colour="#c2410c", chart=CONTINUOUS_CHART,
          chart_range=(0, 160), cell=Cell("hr", "HR"), fresh_s=CONTINUOUS_FRESH_S, peak="high"),
    Vital("spo2", "SpO₂", "%", "%", "59408-5",
          "Oxygen saturation in Arterial blood by Pulse oximetry", (0, 100),
          continuous=True, precision=0, colour="#2563eb", chart=CONTINUOUS_CHART,
          chart_range=(70, 100), cell=Cell("spo2", "SpO₂"), fresh_s=CONTINUOUS_FRESH_S,
          peak="low"),
    Vital("rr", "RR", "/min", "/min", "9279-1", "Respiratory rate", (0, 150),
          continuous=True, precision=0, colour="#7c3aed", chart=CONTINUOUS_CHART,
          chart_range=(0, 160), cell=Cell("rr", "RR"), fresh_s=CONTINUOUS_FRESH_S, peak="low"),
    Vital("etco2", "EtCO₂", "mmHg", "mm[Hg]", "19891-1",
          "Carbon dioxide [Partial pressure] in Exhaled gas --at end expiration", (0, 150),
          continuous=True, precision=0, colour="#0f766e", chart=CONTINUOUS_CHART,
          chart_range=(0, 160), cell=Cell("etco2", "EtCO₂"), fresh_s=CONTINUOUS_FRESH_S,
          peak=None),
    Vital("sbp", "SBP", "mmHg", "mm[Hg]", "8480-6", "Systolic blood pressure", (0, 300),
          continuous=False, nibp=True, precision=0, colour="#b91c1c", chart=BP_CHART,
          chart_range=(40, 220), cell=BP_CELL, fresh_s=SPOT_FRESH_S, peak="high"),
    Vital("dbp", "DBP", "mmHg", "mm[Hg]", "8462-4", "Diastolic blood pressure", (0, 250),
          continuous=False, nibp=True, precision=0, colour="#1d4ed8", chart=BP_CHART,
          chart_range=(40, 220), cell=BP_CELL, fresh_s=SPOT_FRESH_S, peak="high"),
    Vital("map", "MAP", "mmHg", "mm[Hg]", "8478-0", "Mean blood pressure", (0, 300),
          continuous=False, nibp=True, precision=0, colour="#6b7280", chart=None,
          chart_range=(40, 220), cell=None, fresh_s=SPOT_FRESH_S, peak="high"),
    Vital("temp", "Temp", "°C", "Cel", "8310-5", "Body temperature", (25, 45),
          continuous=False, precision=1, colour="#be185d",
          chart=Chart("temp", "Body temperature"), chart_range=(34, 41),
          cell=Cell("temp", "Temp"), fresh_s=SPOT_FRESH_S, peak="high"),
)
"""Every vital sign the monitor knows, in the order screens and exports list them."""

BY_NAME: Final[Mapping[str, Vital]] = {vital.name: vital for vital in REGISTRY}
"""The registry by vital name."""

NAMES: Final[tuple[str, ...]] = tuple(BY_NAME)
"""Every vital's name, in registry order."""


def is_vital(name: str) -> bool:
    """Whether ``name`` is a vital in the registry."""
    return name in BY_NAME


def charts() -> list[tuple[Chart, tuple[Vital, ...]]]:
    """Each chart with the vitals drawn in it, in registry order."""
    grouped: dict[Chart, list[Vital]] = {}
    for vital in REGISTRY:
        if vital.chart is not None:
            grouped.setdefault(vital.chart, []).append(vital)
    return [(chart, tuple(vitals)) for chart, vitals in grouped.items()]


def cells() -> list[tuple[Cell, tuple[Vital, ...]]]:
    """Each board-tile cell with the vitals it shows, in registry order."""
    grouped: dict[Cell, list[Vital]] = {}
    for vital in REGISTRY:
        if vital.cell is not None:
            grouped.setdefault(vital.cell, []).append(vital)
    return [(cell, tuple(vitals)) for cell, vitals in grouped.items()]
