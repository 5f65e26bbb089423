"""``GET /api/vitals``: the vital-sign registry, so the dashboard lists no vitals of its own."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from monitor.domain.vitals import REGISTRY, Vital, cells, charts

router = APIRouter(tags=["board"])


class VitalShape(BaseModel):
    """One vital sign as screens show it."""

    name: str = Field(description="its name in readings, storage and alarm codes")
    label: str = Field(description="its short label on screens")
    unit: str = Field(description="the unit shown on screens")
    ucum: str = Field(description="its UCUM unit code")
    loinc: str = Field(description="its LOINC code")
    loinc_display: str = Field(description="the LOINC display name")
    plausible: tuple[float, float] = Field(description="values a patient can have")
    continuous: bool = Field(description="sent about once a second; else a spot value")
    nibp: bool = Field(description="measured by the blood-pressure cuff")
    precision: int = Field(description="decimals shown")
    colour: str = Field(description="its colour in charts")
    chart_range: tuple[float, float] = Field(description="default range of its chart axis")
    fresh_s: float = Field(description="how long the board shows a value as current")
    peak: str | None = Field(description="which extreme a report gives as peak (high, low)")


class PlaceShape(BaseModel):
    """A chart, or a cell of a board tile, and the vitals it shows."""

    key: str = Field(description="its id: chart-<key>, or a tile cell's data-vital")
    title: str = Field(description="its heading or label")
    vitals: list[str] = Field(description="the vitals it shows, in order")


class Registry(BaseModel):
    """``GET /api/vitals``."""

    vitals: list[VitalShape] = Field(description="every vital, in display order")
    cells: list[PlaceShape] = Field(description="the cells of a board tile")
    charts: list[PlaceShape] = Field(description="the charts of the session page")


def _shape(vital: Vital) -> VitalShape:
    return VitalShape(
        name=vital.name, label=vital.label, unit=vital.unit, ucum=vital.ucum, loinc=vital.loinc,
        loinc_display=vital.loinc_display, plausible=vital.plausible,
        continuous=vital.continuous, nibp=vital.nibp, precision=vital.precision,
        colour=vital.colour, chart_range=vital.chart_range, fresh_s=vital.fresh_s,
        peak=vital.peak)


@router.get("/api/vitals")
async def vitals() -> Registry:
    """Every vital sign the monitor knows, and where the board and charts show it."""
    return Registry(
        vitals=[_shape(vital) for vital in REGISTRY],
        cells=[PlaceShape(key=cell.key, title=cell.label, vitals=[v.name for v in shown])
               for cell, shown in cells()],
        charts=[PlaceShape(key=chart.key, title=chart.title, vitals=[v.name for v in shown])
                for chart, shown in charts()],
    )
