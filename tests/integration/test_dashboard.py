"""The nurses' board and session page in a real Chromium, driven by Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Dialog, Page, Route, async_playwright, expect

from device_sim.cli import chair_specs
from device_sim.device import SimulatedMonitor
from device_sim.runner import run_devices
from monitor.settings import Settings
from tests.integration.conftest import (
    BOOTSTRAP,
    Mosquitto,
    RunningMonitor,
    crash_mark,
    eventually,
    free_port,
    monitor_running,
    publish_reading,
    publisher,
    reading,
)

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium under Playwright, without its background traffic (updates, sync)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def board(browser: Browser, url: str, token: str) -> Page:
    page = await browser.new_page(viewport={"width": 1300, "height": 800})
    await page.goto(f"{url}/?token={token}")
    await expect(page.locator("#connection")).to_have_text("live")
    return page


@contextlib.asynccontextmanager
async def chairs(mosquitto: Mosquitto, site: str, count: int) -> AsyncIterator[None]:
    devices = [SimulatedMonitor(spec) for spec in chair_specs(site, count, seed=2)]
    task = asyncio.create_task(run_devices(mosquitto.url, devices))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_board_shows_the_chairs_with_values_that_change(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    for bed in ("bed-01", "bed-02", "bed-03"):
        await monitor.open_session(bed)
    async with chairs(mosquitto, monitor.site, 3):
        page = await board(browser, monitor.url, await monitor.token("nurse-ana", "nurse"))
        tiles = page.locator(".tile")
        await expect(tiles).to_have_count(3)
        first = page.locator(f'[data-bed="{monitor.site}/bed-01"]')
        await expect(first.locator('[data-vital="hr"]')).to_have_text(re.compile(r"^\d+$"))
        before = await first.get_attribute("data-updated")
        await expect(first).not_to_have_attribute("data-updated", before or "", timeout=5000)
        await expect(first.locator('[data-vital="bp"]')).to_contain_text("ago")
        await expect(first.locator('[data-vital="temp"]')).to_have_text(
            re.compile(r"^3[5-8]\.\d \d+ min ago$"))
        await expect(first.locator(".vitals")).to_contain_text("Temp °C")
        await asyncio.sleep(3)  # a few seconds of trend
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=ARTIFACTS / "board.png")
    assert await page.locator("#who").text_content() == "nurse-ana (nurse)"


async def test_a_breach_turns_its_tile_high_and_an_acknowledgement_reaches_every_board(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    await monitor.open_session("chair-7")
    nurse = await monitor.token("nurse-ben", "nurse")
    first, second = await board(browser, monitor.url, nurse), await board(
        browser, monitor.url, nurse)
    tile = f'[data-bed="{monitor.site}/chair-7"]'
    async with publisher(mosquitto) as mqtt:
        await mqtt.publish(f"infusion/{monitor.site}/chair-7/vitals",
                           reading(1, sbp=191, dbp=96, map=128), qos=1)
    for page in (first, second):
        await expect(page.locator(tile)).to_have_attribute("data-priority", "high", timeout=2000)
        await expect(page.locator(tile + " .alarm-label")).to_have_text("HIGH ALARM")
    ARTIFACTS.mkdir(exist_ok=True)
    await first.screenshot(path=ARTIFACTS / "board-alarm.png")
    await first.locator(tile + " button.ack").click()
    await expect(second.locator(tile + " .alarms li")).to_contain_text(
        "acknowledged by nurse-ben")
    async with monitor.api() as http:
        [alarm] = (await http.get("/api/alarms", params={"state": "acknowledged"})).json()[
            "alarms"]
    assert (alarm["code"], alarm["acknowledged_by"]) == ("sbp_high", "nurse-ben")


async def test_a_viewer_sees_alarms_but_no_buttons(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    await monitor.open_session("chair-8")
    async with publisher(mosquitto) as mqtt:
        await mqtt.publish(f"infusion/{monitor.site}/chair-8/vitals", reading(1, spo2=84), qos=1)
    viewer = await board(browser, monitor.url, await monitor.token("screen-1", "viewer"))
    nurse = await board(browser, monitor.url, await monitor.token("nurse-cy", "nurse"))
    items = f'[data-bed="{monitor.site}/chair-8"] .alarms li'
    await expect(viewer.locator(items + " .alarm-text")).to_have_text("SpO₂ 84 ≤ 85 % · ACTIVE")
    await expect(viewer.locator(items + " .priority")).to_have_text("▲▲▲ HIGH")
    await expect(nurse.locator(items + " button.ack")).to_have_count(1)
    await expect(viewer.locator(items + " button")).to_have_count(0)


async def test_the_board_shows_the_outage_and_recovers_without_a_reload(
    monitor_settings: Settings, browser: Browser, site: str
) -> None:
    settings = monitor_settings.model_copy(update={"http_port": free_port()})
    async with monitor_running(settings, site) as monitor:
        page = await board(browser, monitor.url, await monitor.token("nurse-di", "nurse"))
        await page.evaluate("window.loadedOnce = true")
    await expect(page.locator("#banner")).to_be_visible(timeout=5000)
    await expect(page.locator("main")).to_have_css("opacity", "0.4")
    async with monitor_running(settings, site):
        await expect(page.locator("#banner")).to_be_hidden(timeout=10_000)
        await expect(page.locator("#connection")).to_have_text("live")
        assert await page.evaluate("window.loadedOnce") is True


async def test_the_session_page_charts_the_session_and_runs_its_phases(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    session_id = await monitor.open_session("chair-9")
    async with publisher(mosquitto) as mqtt:
        for seq in range(40):
            vitals: dict[str, float] = {"hr": 70 + seq % 7, "spo2": 97, "rr": 14, "etco2": 36}
            if seq % 10 == 0:
                vitals |= {"sbp": 128 + seq, "dbp": 80, "map": 96}
            await mqtt.publish(f"infusion/{monitor.site}/chair-9/vitals",
                               reading(seq, "mon-1", **vitals), qos=1)
    async with monitor.api() as http:
        async def stored() -> bool:
            got = await http.get(f"/api/sessions/{session_id}/vitals")
            return len(got.json()["readings"]) == 40
        await eventually(stored)
        await http.post(f"/api/sessions/{session_id}/notes", json={"text": "patient calm"})
    page = await browser.new_page(viewport={"width": 1300, "height": 1600})
    token = await monitor.token("nurse-eve", "nurse")
    await page.goto(f"{monitor.url}/session?id={session_id}&token={token}")
    await expect(page.locator("#chart-bp canvas")).to_have_count(1)
    await expect(page.locator("#chart-temp canvas")).to_have_count(1)
    await expect(page.locator("#notes li")).to_contain_text("patient calm")
    await expect(page.locator("#limits tr")).not_to_have_count(0)
    warnings: list[str] = []

    async def acknowledge(dialog: Dialog) -> None:
        warnings.append(dialog.message)
        await dialog.accept()
    page.on("dialog", acknowledge)
    await page.locator('button[data-phase="infusion"]').click()
    await expect(page.locator("#facts")).to_contain_text("infusion")
    await expect(page.locator("#facts")).to_contain_text("sbp 143")  # median of 128..158
    assert len(warnings) == 1
    assert "resting BP 143/80 is above 140/90" in warnings[0]
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "session.png", full_page=True)


async def test_signing_in_with_the_form(monitor: RunningMonitor, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{monitor.url}/")
    form = page.locator("#sign-in form")
    await form.locator("input").fill("not-a-token")
    await form.locator("button").click()
    await expect(form.locator(".error")).to_have_text("This token is not valid.")
    await form.locator("input").fill(await monitor.token("nurse-fay", "nurse"))
    await form.locator("button").click()
    await expect(page.locator("#sign-in")).to_be_hidden()
    await expect(page.locator("#who")).to_have_text("nurse-fay (nurse)")
    await expect(page.locator("#connection")).to_have_text("live")


async def test_the_api_docs_load_with_no_way_out_to_the_internet(
    monitor: RunningMonitor, browser: Browser
) -> None:
    page = await browser.new_page()
    outside: list[str] = []

    async def only_the_monitor(route: Route) -> None:
        if route.request.url.startswith(monitor.url):
            await route.continue_()
        else:
            # ReDoc's "powered by" logo is an image from its CDN: it may fail offline.
            if route.request.resource_type != "image":
                outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_the_monitor)
    await page.goto(f"{monitor.url}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Infusion-session monitor")
    await expect(page.locator(".opblock-summary-path").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "docs.png")
    await page.goto(f"{monitor.url}/redoc")
    await expect(page.locator("h1").first).to_contain_text("Infusion-session monitor")
    assert outside == []


async def test_the_monitor_s_own_tile_shows_its_alarm_and_goes_once_acknowledged(
    monitor_settings: Settings, site: str, browser: Browser
) -> None:
    async with monitor_running(monitor_settings, site):
        pass
    crash_mark(monitor_settings)
    async with monitor_running(monitor_settings, site) as monitor:
        page = await board(browser, monitor.url, BOOTSTRAP)
        tile = page.locator('[data-bed="system/monitor"]')
        await expect(tile.locator(".alarms")).to_contain_text("monitor restarted")
        await tile.locator("button.ack").click()
        await expect(tile).to_have_count(0)


async def test_a_kiosk_link_with_a_refused_token_says_so(
    monitor: RunningMonitor, browser: Browser
) -> None:
    page = await browser.new_page()
    await page.goto(f"{monitor.url}/?token=revoked-or-mistyped")
    await expect(page.locator("#sign-in .error")).to_contain_text("not valid any more")
    await expect(page.locator("#connection")).to_have_text("not signed in")


async def test_sound_can_be_paused_and_resumed_and_never_looks_disabled(
    monitor: RunningMonitor, browser: Browser
) -> None:
    page = await board(browser, monitor.url, BOOTSTRAP)
    button = page.locator("#sound")
    await button.click()
    await expect(button).to_have_text("Sound is on: pause 2 min")
    await expect(button).to_be_enabled()
    await expect(button).to_have_attribute("aria-pressed", "true")
    await button.click()
    await expect(button).to_have_text(re.compile(r"Sound paused [12]:\d\d: resume"))
    await expect(button).to_have_attribute("data-state", "paused")
    await expect(button).to_have_attribute("aria-pressed", "false")
    await button.click()
    await expect(button).to_have_text("Sound is on: pause 2 min")


async def test_the_session_page_opens_its_report_and_downloads_its_exports(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    session_id = await monitor.open_session("chair-3")
    await publish_reading(mosquitto, monitor.site, "chair-3", reading(0, "mon-3", hr=72, spo2=98))
    async with monitor.api() as http:
        async def stored() -> bool:
            got = await http.get(f"/api/sessions/{session_id}/vitals")
            return len(got.json()["readings"]) == 1
        await eventually(stored)
    token = await monitor.token("nurse-ida", "nurse")
    page = await browser.new_page()
    await page.goto(f"{monitor.url}/session?id={session_id}&token={token}")
    async with page.expect_popup() as opening:
        await page.locator("#open-report").click()
    report = await opening.value
    await expect(report.locator("h1")).to_contain_text("Session report: p-chair-3")
    async with page.expect_download() as downloading:
        await page.locator('[data-export="csv"]').click()
    download = await downloading.value
    assert download.suggested_filename == f"session-{session_id}.csv"
    saved = await download.path()
    lines = (await asyncio.to_thread(Path(saved).read_text)).splitlines()
    assert lines[0].startswith("ts,seq,device_id,hr,")
    assert len(lines) == 2


async def test_a_nurse_opens_a_session_from_a_bed_s_tile(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    nurse, viewer = await monitor.token("nurse-joy", "nurse"), await monitor.token("v", "viewer")
    page = await board(browser, monitor.url, nurse)
    watching = await board(browser, monitor.url, viewer)
    async with publisher(mosquitto) as mqtt:
        await mqtt.publish(f"infusion/{monitor.site}/chair-5/vitals",
                           reading(0, "mon-5", hr=72, spo2=98), qos=1)
    tile = f'[data-bed="{monitor.site}/chair-5"]'
    await expect(page.locator(tile + " .session")).to_have_text("no session")
    await expect(watching.locator(tile + " .session")).to_have_text("no session")
    await expect(watching.locator(tile + " .open-session")).to_be_hidden()

    await page.locator(tile + " .open-session").click()
    await page.locator('#open-dialog [name="patient_ref"]').fill("p-77")
    await page.locator('#open-dialog button[type="submit"]').click()
    await expect(page.locator(tile + " .session")).to_have_text(re.compile(r"^p-77 · baseline"))
    await expect(page.locator(tile + " .care")).to_be_hidden()  # no weight: no plan
    await expect(page.locator(tile + " .open-session")).to_be_hidden()
    await expect(watching.locator(tile + " .session")).to_have_text(re.compile(r"^p-77"))
