from typing import Any

import httpx
from fastapi import FastAPI

from monitor.api import vital_routes
from monitor.domain.vitals import NAMES


async def get_registry() -> dict[str, Any]:
    app = FastAPI()
    app.include_router(vital_routes.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as http:
        response = await http.get("/api/vitals")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_the_dashboard_gets_every_vital_with_its_cells_and_charts() -> None:
    body = await get_registry()
    assert [v["name"] for v in body["vitals"]] == list(NAMES)
    hr = body["vitals"][0]
    assert hr == {
        "name": "hr", "label": "HR", "unit": "/min", "ucum": "/min", "loinc": "8867-4",
        "loinc_display": "Heart rate", "plausible": [0, 300], "continuous": True,
        "nibp": False, "precision": 0, "colour": "#c2410c", "chart_range": [0, 160],
        "fresh_s": 10.0, "peak": "high"}
    assert {"key": "bp", "title": "BP", "vitals": ["sbp", "dbp"]} in body["cells"]
    assert body["charts"][0] == {"key": "continuous",
                                 "title": "Heart rate, SpO₂, respiration, EtCO₂",
                                 "vitals": ["hr", "spo2", "rr", "etco2"]}
    shown = {name for place in body["cells"] + body["charts"] for name in place["vitals"]}
    assert shown <= set(NAMES)
