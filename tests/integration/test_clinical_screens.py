"""The clinical workflow's screens (issue 15) in a real Chromium, against real Mosquitto.

A whole session through the board and the session page: opened from the
tile with weight and dose, the infusion started and its rate changed,
assessments and an adverse event recorded, stopped, the fit-to-leave
checklist signed and the session ended. Then its report, its exports and
the patient's page over a series of three sessions.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from playwright.async_api import Dialog, Page, expect

from monitor.settings import Settings
from tests.integration.conftest import BOOTSTRAP, Mosquitto, monitor_running
from tests.integration.test_clinical_workflow import Chair, ok
from tests.integration.test_dashboard import ARTIFACTS, board, chromium

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def thresholds(monitor_settings: Settings, tmp_path: Path, *changes: tuple[str, str]) -> Settings:
    """The default profile with ``changes`` (old, new text) made to its file."""
    text = (ROOT / "config" / "thresholds.toml").read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "thresholds.toml"
    path.write_text(text)
    return monitor_settings.model_copy(update={"thresholds_file": path})


@pytest.fixture
def quick_discharge(monitor_settings: Settings, tmp_path: Path) -> Settings:
    """No minimum observation and no hold before discharge."""
    return thresholds(monitor_settings, tmp_path, ("min_observation_min = 30",
                                                   "min_observation_min = 0"),
                      ("hold_min = 15", "hold_min = 0"))


@pytest.fixture
def quick_assessments(monitor_settings: Settings, tmp_path: Path) -> Settings:
    """Assessments due 1.2 s after the infusion's start and overdue at once after that."""
    return thresholds(monitor_settings, tmp_path, ("interval_min = 15", "interval_min = 0.02"),
                      ("overdue_after_min = 5", "overdue_after_min = 0"))


def answering(page: Page, answer: str = "") -> list[str]:
    """Accept every confirm on ``page``, answer every prompt with ``answer``; their messages."""
    seen: list[str] = []

    async def accept(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await (dialog.accept(answer) if dialog.type == "prompt" else dialog.accept())
    page.on("dialog", accept)
    return seen


async def until(attempt: Callable[[], Coroutine[Any, Any, None]], tries: int = 20) -> None:
    """Run ``attempt`` until its expectations hold (the readiness rule needs a reading or two)."""
    for _ in range(tries - 1):
        try:
            await attempt()
        except AssertionError:
            continue
        return
    await attempt()


async def download(page: Page, selector: str) -> tuple[str, str]:
    """Click an export button: the file's suggested name and its text."""
    async with page.expect_download() as downloading:
        await page.locator(selector).click()
    got = await downloading.value
    return got.suggested_filename, await asyncio.to_thread(Path(await got.path()).read_text)


async def run_by_api(http: httpx.AsyncClient, chair: Chair, site: str, dose: float,
                     rise: float) -> str:
    """A session of the series made through the API: infused, scored and stopped, not ended."""
    sid: str = (await ok(await http.post("/api/sessions", json={
        "site": site, "bed": "chair-1", "patient_ref": "pt-90", "weight_kg": 80,
        "dose_mg_per_kg": dose, "duration_min": 40}), 201))["id"]
    await chair.send(3)
    await asyncio.sleep(0.5)
    await ok(await http.post(f"/api/sessions/{sid}/infusion", json={"event": "start"}), 201)
    await chair.send(1, sbp=120 + rise, dbp=75 + rise / 2, hr=70 + rise / 2)
    for scale, value in (("moaas", 3), ("cadss6", round(rise / 2))):
        await ok(await http.post(f"/api/sessions/{sid}/assessments",
                                 json={"scale": scale, "value": value}), 201)
    await asyncio.sleep(0.5)
    await ok(await http.post(f"/api/sessions/{sid}/infusion",
                             json={"event": "stop", "reason": "completed"}), 201)
    return sid


async def test_a_whole_session_through_the_board_and_the_session_page(
    quick_discharge: Settings, mosquitto: Mosquitto, site: str
) -> None:
    async with monitor_running(quick_discharge, site) as monitor, chromium() as browser:
        nurse, viewer = await monitor.token("nurse-sol", "nurse"), await monitor.token(
            "dr-view", "viewer")
        ARTIFACTS.mkdir(exist_ok=True)
        chair = Chair(mosquitto, site, "chair-1")
        await chair.send(1)
        tiles = await board(browser, monitor.url, nurse)
        watching = await board(browser, monitor.url, viewer)
        tile = tiles.locator(f'[data-bed="{site}/chair-1"]')
        await expect(watching.locator(f'[data-bed="{site}/chair-1"] .session')).to_have_text(
            "no session")
        await expect(watching.locator(f'[data-bed="{site}/chair-1"] .open-session')).to_be_hidden()

        await tile.locator(".open-session").click()
        opening = tiles.locator("#open-dialog")
        await expect(opening.locator("h2")).to_have_text("Open a session at chair-1")
        await opening.locator('[name="patient_ref"]').fill("pt-90")
        await expect(opening.locator(".plan-total")).to_have_text(
            "No plan: the session opens without an infusion record.")
        await opening.locator('[name="weight_kg"]').fill("80")
        await expect(opening.locator(".plan-total")).to_have_text(
            "40 mg over 40 min: 0.75 mg/kg/h")
        await opening.locator('button[type="submit"]').click()
        await expect(opening).to_be_hidden()
        await expect(tile.locator(".session")).to_have_text(re.compile(r"^pt-90 · baseline"))
        await expect(tile.locator(".care")).to_have_text("infusion not started · 0/40 mg")
        href = await tile.locator(".session").get_attribute("href")
        assert href is not None
        first = href.removeprefix("/session?id=")
        await chair.send(3)

        page = await browser.new_page(viewport={"width": 1300, "height": 1000})
        said = answering(page)
        await page.goto(f"{monitor.url}{href}&token={nurse}")
        plan = page.locator("#plan")
        await expect(plan).to_contain_text("0.5 mg/kg over 40 min: 40 mg")
        await expect(plan).to_contain_text("0.75 mg/kg/h, 60 mL/h at 1 mg/mL")
        await expect(page.locator("#patient-link")).to_have_attribute("href", "/patient?ref=pt-90")
        await expect(page.locator('button[data-phase="infusion"]')).to_have_count(0)  # the pump
        await expect(page.locator("[data-infusion]")).to_have_text(["Start"])
        await page.locator('[data-infusion="start"]').click()
        pump = page.locator("#pump")
        await expect(pump).to_contain_text("Pump running at 0.75 mg/kg/h (60 mL/h)")
        await expect(page.locator("#facts")).to_contain_text("infusion")
        await expect(page.locator("[data-infusion]")).to_have_text(
            ["Pause", "Change rate", "Stop"])
        await chair.send(1, sbp=136, hr=84)

        pumping = page.locator("#infusion-form")
        await page.locator('[data-infusion="pause"]').click()
        await pumping.locator('[name="reason"]').fill("   ")
        await pumping.locator('button[type="submit"]').click()
        await expect(page.locator("#infusion-error")).to_have_text("Pause needs a reason.")
        await pumping.locator(".cancel").click()
        await page.locator('[data-infusion="rate"]').click()
        await pumping.locator('[name="rate"]').fill("0.5")
        await expect(pumping.locator(".ml")).to_have_text("= 40 mL/h")
        await pumping.locator('[name="reason"]').fill("SBP rising")
        await pumping.locator('button[type="submit"]').click()
        events = page.locator("#infusion-events tr")
        await expect(events).to_have_count(2)
        await expect(events.nth(1).locator("td")).to_have_text(
            [re.compile(r"\d\d:\d\d:\d\d"), "change rate", "0.5 mg/kg/h (40 mL/h)", "nurse-sol",
             "SBP rising"])
        await expect(page.locator("#infusion-error")).to_have_text("")
        await expect(pump).to_contain_text("at 0.5 mg/kg/h (40 mL/h)")

        reading_only = await browser.new_page(viewport={"width": 1300, "height": 1000})
        await reading_only.goto(f"{monitor.url}{href}&token={viewer}")
        await expect(reading_only.locator("#infusion-events tr")).to_have_count(2)
        await expect(reading_only.locator("#pump")).to_contain_text("Pump running")
        await expect(reading_only.locator("main button:visible")).to_have_count(0)
        for form in ("#assessment-form", "#adverse-form", "#fit-form", "#note-form"):
            await expect(reading_only.locator(form)).to_be_hidden()

        scoring = page.locator("#assessment-form")
        await scoring.locator('[name="sedation"]').select_option("4")
        await scoring.locator('[name="dissociation"]').fill("9")
        await scoring.locator('[name="nausea"]').select_option("1")
        await scoring.locator('[name="anxiety"]').fill("3")
        await scoring.locator('[name="antiemetic_given"]').select_option("1")
        await scoring.locator('button[type="submit"]').click()
        scores = page.locator("#assessments tr")
        await expect(scores).to_have_count(5)
        await expect(scores.nth(0).locator("td").nth(1)).to_have_text("MOAA/S")
        await expect(scores.nth(0).locator("td").nth(2)).to_have_text(
            "4 (lethargic response to name)")
        await expect(scores.nth(4).locator("td").nth(1)).to_have_text("Anti-emetic given")
        await expect(scoring.locator('[name="sedation"]')).to_have_value("")
        await expect(page.locator("#assessment-due")).to_have_text(
            re.compile(r"^Next assessment due in 1[45] min$"))
        await expect(tile.locator(".care > span")).to_have_text([
            re.compile(r"^infusing \d+/40 min · \d+(\.\d)?/40 mg$"),
            re.compile(r"^assessment due in 1[45] min$")])
        await tiles.screenshot(path=ARTIFACTS / "clinical-board.png")

        adverse = page.locator("#adverse-form")
        await adverse.locator('[name="kind"]').select_option("nausea_vomiting")
        await adverse.locator('[name="severity"]').select_option("moderate")
        await adverse.locator('[name="drug"]').fill("ondansetron")
        await adverse.locator('[name="dose"]').fill("4 mg")
        await adverse.locator('[name="route"]').fill("IV")
        await adverse.locator('[name="outcome"]').fill("resolved in 10 min")
        await adverse.locator('button[type="submit"]').click()
        await expect(page.locator("#adverse-events tr td")).to_have_text(
            [re.compile(r"\d\d:\d\d:\d\d"), "Nausea or vomiting", "moderate", "ondansetron 4 mg IV",
             "resolved in 10 min", "", "nurse-sol"])

        await expect(page.locator("#fit-form")).to_be_hidden()
        await expect(page.locator("#fit-signed")).to_have_text(
            "Not signed yet: the checklist is signed in observation, once the infusion has "
            "stopped.")
        await page.locator('[data-infusion="stop"]').click()
        await pumping.locator('[name="reason"]').fill("completed")
        await pumping.locator('button[type="submit"]').click()
        await expect(events).to_have_count(3)
        await expect(page.locator("#facts")).to_contain_text("observation")
        await expect(pump).to_contain_text(re.compile(r"Pump stopped · \d+/40 min · [\d.]+/40 mg"))
        await expect(page.locator("[data-infusion]")).to_have_count(0)
        await expect(page.locator("#end-needs-checklist")).to_have_text(
            "Ending this session needs the signed fit-to-leave checklist (below), "
            "or an admin's override.")
        await expect(page.locator('button[data-phase="ended"]')).to_have_count(0)

        checklist = page.locator("#fit-form")
        await checklist.locator('[name="score"]').select_option("10")
        await checklist.locator('button[type="submit"]').click()
        await expect(page.locator("#fit-refusal li").first).to_have_text("No escort present.")
        await checklist.locator('[name="escort"]').check()

        async def sign() -> None:
            await chair.send(1)
            await checklist.locator('button[type="submit"]').click()
            await expect(page.locator("#fit-signed")).to_contain_text(
                "Signed fit to leave by nurse-sol", timeout=2000)
        await until(sign)
        await expect(page.locator("#fit-signed")).to_contain_text(
            "Modified Aldrete 10, escort present, no nausea")
        await expect(checklist).to_be_hidden()
        await expect(tile.locator(".care .fit")).to_have_text(
            "✓ fit to leave: signed by nurse-sol")
        await page.screenshot(path=ARTIFACTS / "clinical-session.png", full_page=True)

        await page.locator('button[data-phase="ended"]').click()
        await expect(page.locator("#facts")).to_contain_text("ended")
        assert "End this session? Its alarms clear." in said
        await expect(page.locator("#phase-controls button")).to_have_count(0)
        for form in ("#adverse-form", "#fit-form", "#infusion-form"):
            await expect(page.locator(form)).to_be_hidden()
        await expect(scoring.locator('button[type="submit"]')).to_have_text("Save as late entry")
        await scoring.locator('[name="nausea"]').select_option("0")
        await scoring.locator('button[type="submit"]').click()
        await expect(scores).to_have_count(6)
        await expect(scores.nth(5).locator(".late")).to_have_text("late entry")
        await expect(tile.locator(".session")).to_have_text("no session")

        async with page.expect_popup() as popup:
            await page.locator("#open-report").click()
        report = await popup.value
        await expect(report.locator("body")).to_contain_text("Checklist signed by nurse-sol")
        await expect(report.locator("body")).to_contain_text("SBP rising")
        await expect(report.locator("body")).to_contain_text("ondansetron 4 mg IV")
        await report.screenshot(path=ARTIFACTS / "report.png", full_page=True)
        name, fhir = await download(page, '[data-export="fhir"]')
        assert name == f"session-{first}.json"
        bundle = json.loads(fhir)
        Bundle.model_validate(bundle)
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert {"MedicationAdministration", "AdverseEvent", "Observation"} <= set(kinds)
        name, table = await download(page, '[data-records="care"]')
        assert name == f"session-{first}-care.csv"
        assert [row["record"] for row in csv.DictReader(io.StringIO(table))] == [
            "plan", "infusion", "infusion", "infusion", *["assessment"] * 6, "adverse_event",
            "discharge"]
        name, lines = await download(page, '[data-records="all"]')
        assert name == f"session-{first}-all.jsonl"
        records = {json.loads(line)["record"] for line in lines.splitlines()}
        assert {"reading", "plan", "infusion", "assessment", "discharge"} <= records

        async with monitor.api(nurse) as http, monitor.api() as admin:
            second = await run_by_api(http, chair, site, 0.6, rise=30)
            overriding = await browser.new_page(viewport={"width": 1300, "height": 1000})
            answering(overriding, "patient left before the checklist")
            await overriding.goto(f"{monitor.url}/session?id={second}&token={BOOTSTRAP}")
            await overriding.locator('button[data-phase="ended"]').click()
            await expect(overriding.locator("#facts")).to_contain_text("ended")
            kept = (await ok(await admin.get(f"/api/sessions/{second}/report")))["fit_to_leave"]
            assert kept["override"]["reason"] == "patient left before the checklist"
            third = await run_by_api(http, chair, site, 0.7, rise=10)
            await ok(await admin.post(f"/api/sessions/{third}/phase", json={
                "phase": "ended", "acknowledge_alarms": True, "override_reason": "test series"}))

        patient = await browser.new_page(viewport={"width": 1300, "height": 1100})
        await patient.goto(f"{monitor.url}/patient?ref=pt-90&token={viewer}")
        await expect(patient.locator("#title")).to_have_text("Patient pt-90")
        rows = patient.locator("#series tr")
        await expect(rows).to_have_count(3)
        for row, sid in zip(await rows.all(), (first, second, third), strict=True):
            await expect(row.locator("a")).to_have_attribute("href", f"/session?id={sid}")
        cells = rows.nth(0).locator("td")

        async def reads(column: int, pattern: str, row: int = 0) -> None:
            await expect(rows.nth(row).locator("td").nth(column)).to_have_text(
                re.compile(pattern), use_inner_text=True)
        await reads(2, r"^0\.5 mg/kg\n[\d.]+ mg given of 40 mg$")
        await reads(3, r"^\+16 \(136\)\nat [\d.]+ min$")
        await reads(5, r"^\+14 \(84\)\nat [\d.]+ min$")
        await reads(6, r"^none$")
        await expect(cells.nth(7)).to_have_text("MOAA/S 4")
        await expect(cells.nth(8)).to_have_text("CADSS-6 9")
        await expect(cells.nth(9)).to_have_text("Nausea or vomiting (moderate)")
        await expect(cells.nth(10)).to_have_text(re.compile(r"^[\d.]+ min$"))
        await reads(3, r"^\+30 \(150\)\n", row=1)
        await reads(6, r"▲▲ 1 medium", row=1)
        await expect(rows.nth(1).locator("td").nth(10)).to_have_text("—")
        await expect(patient.locator("#chart-peaks .u-legend")).to_contain_text("SBP change mmHg")
        await expect(patient.locator("#chart-scores .u-legend")).to_contain_text(
            "peak CADSS-6")
        await patient.screenshot(path=ARTIFACTS / "clinical-patient.png", full_page=True)


async def test_an_overdue_assessment_stands_out_on_the_tile_and_the_session_page(
    quick_assessments: Settings, mosquitto: Mosquitto, site: str
) -> None:
    async with monitor_running(quick_assessments, site) as monitor, chromium() as browser:
        async with monitor.api() as http:
            sid = (await ok(await http.post("/api/sessions", json={
                "site": site, "bed": "chair-2", "patient_ref": "pt-91", "weight_kg": 70,
                "dose_mg_per_kg": 0.5, "duration_min": 40}), 201))["id"]
            await Chair(mosquitto, site, "chair-2").send(3)
            await asyncio.sleep(0.5)
            await ok(await http.post(f"/api/sessions/{sid}/infusion", json={"event": "start"}), 201)
        nurse = await monitor.token("nurse-tam", "nurse")
        ARTIFACTS.mkdir(exist_ok=True)
        tiles = await board(browser, monitor.url, nurse)
        tile = tiles.locator(f'[data-bed="{site}/chair-2"]')
        await expect(tile.locator(".care .assessment.overdue")).to_have_text(
            "⚠ assessment overdue", timeout=10_000)
        await tile.screenshot(path=ARTIFACTS / "clinical-tile-overdue.png")
        page = await browser.new_page()
        await page.goto(f"{monitor.url}/session?id={sid}&token={nurse}")
        await expect(page.locator("#assessment-due.overdue")).to_have_text("⚠ Assessment overdue")
