"""The board's and session page's wording, clocks and forms (issue 16), in a real Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from device_sim.cli import chair_specs
from monitor.demo import run_demo
from tests.integration.conftest import (
    Mosquitto,
    RunningMonitor,
    eventually,
    publish_reading,
    publisher,
    reading,
)
from tests.integration.test_dashboard import ARTIFACTS, board, chromium

pytestmark = pytest.mark.integration


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def session_page(browser: Browser, monitor: RunningMonitor, session_id: str) -> Page:
    page = await browser.new_page(viewport={"width": 1300, "height": 1600})
    token = await monitor.token("nurse-lou", "nurse")
    await page.goto(f"{monitor.url}/session?id={session_id}&token={token}")
    await expect(page.locator("#page")).to_be_visible()
    return page


async def stored(monitor: RunningMonitor, session_id: str, count: int) -> None:
    async with monitor.api() as http:
        async def all_there() -> bool:
            got = await http.get(f"/api/sessions/{session_id}/vitals")
            return len(got.json()["readings"]) == count
        await eventually(all_there)


async def test_an_alarm_reads_as_value_against_limit_and_its_priority_stands_apart(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    session_id = await monitor.open_session("chair-1")
    await publish_reading(mosquitto, monitor.site, "chair-1",
                          reading(1, sbp=150, dbp=101, map=117))
    page = await board(browser, monitor.url, await monitor.token("nurse-kit", "nurse"))
    item = page.locator(f'[data-bed="{monitor.site}/chair-1"] .alarms li')
    await expect(item.locator(".alarm-text")).to_have_text("DBP 101 ≥ 100 mmHg · ACTIVE")
    await expect(item.locator(".priority")).to_have_text("▲▲ MEDIUM")
    assert "high" not in (await item.locator(".alarm-text").text_content() or "").lower()
    review = await session_page(browser, monitor, session_id)
    row = review.locator("#alarms tr")
    await expect(row.locator("td").nth(1)).to_have_text("DBP 101 ≥ 100 mmHg")
    await expect(row.locator("td").nth(2)).to_have_text("▲▲ MEDIUM")


async def test_notes_after_the_end_are_late_entries(
    monitor: RunningMonitor, browser: Browser
) -> None:
    session_id = await monitor.open_session("chair-2")
    async with monitor.api() as http:
        await http.post(f"/api/sessions/{session_id}/notes", json={"text": "calm at start"})
        (await http.post(f"/api/sessions/{session_id}/phase", json={"phase": "ended"})
         ).raise_for_status()
    page = await session_page(browser, monitor, session_id)
    form = page.locator("#note-form")
    await expect(form.locator("button")).to_have_text("Add late entry")
    await form.locator("textarea").fill("phoned at home: feels well")
    await form.locator("button").click()
    notes = page.locator("#notes li")
    await expect(notes).to_have_count(2)
    await expect(notes.nth(1)).to_contain_text("late entry")
    await expect(notes.nth(1)).to_contain_text("phoned at home: feels well")
    await expect(notes.nth(0)).not_to_contain_text("late entry")


async def test_an_open_session_adds_plain_notes(
    monitor: RunningMonitor, browser: Browser
) -> None:
    session_id = await monitor.open_session("chair-3")
    page = await session_page(browser, monitor, session_id)
    await expect(page.locator("#note-form button")).to_have_text("Add note")


async def test_the_override_form_builds_the_rules_and_explains_a_refusal(
    monitor: RunningMonitor, browser: Browser
) -> None:
    session_id = await monitor.open_session("chair-4")
    page = await session_page(browser, monitor, session_id)
    form = page.locator("#override-form")
    await form.locator('select[name="vital"]').select_option("spo2")
    rows = form.locator(".rule")
    await expect(rows).to_have_count(3)  # the profile's: < 94 medium, < 90 high, < 85 high
    first = rows.nth(0)
    await expect(first.locator('[name="when"]')).to_have_value("<")
    await expect(first.locator('[name="value"]')).to_have_value("94")
    await first.locator('[name="value"]').fill("150")
    await form.locator('button[type="submit"]').click()
    error = page.locator("#override-error")
    await expect(error).to_have_text(
        "Rule 1, limit: 150 is outside spo2's physiological range 0-100.")
    await first.locator('[name="value"]').fill("92")
    await first.locator('[name="priority"]').select_option("low")
    await form.locator('input[name="delay_s"]').nth(0).fill("15")
    await form.locator('button[type="submit"]').click()
    await expect(error).to_have_text("")
    limits = page.locator("#limits tr", has_text="spo2")
    await expect(limits.first).to_have_text(re.compile(r"spo2\s*< 92\s*low\s*15 s"))
    async with monitor.api() as http:
        session = (await http.get(f"/api/sessions/{session_id}")).json()
    assert session["overrides"]["spo2"]["rules"][0] == {
        "when": "<", "limit": 92.0, "priority": "low", "delay_s": 15.0}
    await page.screenshot(path=ARTIFACTS / "session-override.png", full_page=True)


async def test_the_tile_trend_shows_its_scale(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    session_id = await monitor.open_session("chair-5")
    async with publisher(mosquitto) as mqtt:
        for seq, (hr, spo2) in enumerate([(60, 95), (75, 97), (90, 99)]):
            await mqtt.publish(f"infusion/{monitor.site}/chair-5/vitals",
                               reading(seq, "mon-5", hr=hr, spo2=spo2), qos=1)
    await stored(monitor, session_id, 3)
    page = await board(browser, monitor.url, await monitor.token("nurse-max", "nurse"))
    tile = page.locator(f'[data-bed="{monitor.site}/chair-5"]')
    heart, oxygen = tile.locator('.scale[data-trend="hr"]'), tile.locator(
        '.scale[data-trend="spo2"]')
    await expect(heart.locator(".max")).to_have_text("90")
    await expect(heart.locator(".min")).to_have_text("60")
    await expect(heart.locator(".name")).to_have_text("HR /min")
    await expect(oxygen.locator(".max")).to_have_text("99")
    await expect(oxygen.locator(".min")).to_have_text("95")
    await expect(oxygen.locator(".name")).to_have_text("SpO₂ %")
    ARTIFACTS.mkdir(exist_ok=True)
    await tile.screenshot(path=ARTIFACTS / "tile-trend-scale.png")


@contextlib.asynccontextmanager
async def demo(monitor: RunningMonitor, speed: float) -> AsyncIterator[None]:
    specs = chair_specs(monitor.site, 1, seed=3)
    task = asyncio.create_task(run_demo(monitor.started, specs, speed))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_at_speed_60_the_board_counts_simulated_minutes(
    monitor: RunningMonitor, browser: Browser
) -> None:
    async with demo(monitor, speed=60):
        page = await board(browser, monitor.url, await monitor.token("nurse-ned", "nurse"))
        tile = page.locator(f'[data-bed="{monitor.site}/bed-01"]')
        # Baseline lasts 10 simulated minutes (10 s here); 4 s into the infusion
        # is 4 simulated minutes, which the wall clock would call 0.
        await expect(tile.locator(".session")).to_contain_text("infusion", timeout=20_000)
        await expect(tile.locator(".session")).to_have_text(
            re.compile(r"· [3-9] min since start"), timeout=10_000)
        # The NIBP cycle is 5 simulated minutes: its age runs up to 4 or 5 min.
        await expect(tile.locator('[data-vital="bp"] .age')).to_have_text(
            re.compile(r"^ [3-5] min ago$"), timeout=10_000)
        await page.screenshot(path=ARTIFACTS / "board-speed-60.png")
