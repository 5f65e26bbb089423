"""The central-station board (issue 16): 4, 16 and 32 chairs on one 1920x1080 screen;
and the session page's charts, which a click on a tile leads to.

Every chair publishes at 1 Hz for the whole test (so none goes stale); three
of them breach their limits one after another: chair-03 a medium DBP alarm
first, then chair-02 a high SpO2 alarm, then chair-04 a high SBP alarm. The
alarm bar must list them high before medium and, within high, the older
first: chair-02, chair-04, chair-03.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping

import aiomqtt
import pytest
from playwright.async_api import Browser, Page, expect

from tests.integration.conftest import (
    Mosquitto,
    RunningMonitor,
    eventually,
    publish_reading,
    publisher,
    reading,
)
from tests.integration.test_dashboard import ARTIFACTS, chromium
from tests.integration.test_dashboard_screens import session_page, stored

pytestmark = pytest.mark.integration

NORMAL: Mapping[str, float] = {"hr": 72, "spo2": 98, "rr": 14, "etco2": 36,
                               "sbp": 122, "dbp": 76, "map": 91}
BREACHES: tuple[tuple[str, str, Mapping[str, float]], ...] = (
    ("chair-03", "dbp_high", {"sbp": 150, "dbp": 101, "map": 117}),
    ("chair-02", "spo2_low", {"spo2": 84}),
    ("chair-04", "sbp_high", {"sbp": 191, "dbp": 96, "map": 128}),
)
BAR_ORDER = [("high", "chair-02", "SpO₂ 84 ≤ 85 %"), ("high", "chair-04", "SBP 191 ≥ 180 mmHg"),
             ("medium", "chair-03", "DBP 101 ≥ 100 mmHg")]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def chair(n: int) -> str:
    return f"chair-{n:02d}"


async def publish_all(mqtt: aiomqtt.Client, site: str, vitals: Mapping[str, Mapping[str, float]],
                      seq: int) -> None:
    for bed, values in vitals.items():
        await mqtt.publish(f"infusion/{site}/{bed}/vitals",
                           reading(seq, f"mon-{bed}", **values), qos=1)


async def open_alarms(monitor: RunningMonitor) -> dict[str, dict[str, object]]:
    """The site's open alarms by bed."""
    async with monitor.api() as http:
        alarms = (await http.get("/api/alarms", params={"state": "open"})).json()["alarms"]
    return {a["bed"]: a for a in alarms if a["site"] == monitor.site}


@contextlib.asynccontextmanager
async def station(monitor: RunningMonitor, mosquitto: Mosquitto,
                  count: int) -> AsyncIterator[None]:
    """``count`` chairs with sessions, publishing every second, with the three breaches."""
    vitals: dict[str, Mapping[str, float]] = {chair(n): NORMAL for n in range(1, count + 1)}
    for bed in vitals:
        await monitor.open_session(bed)
    async with publisher(mosquitto) as mqtt:
        async def every_second() -> None:
            seq = 0
            while True:
                seq += 1
                await publish_all(mqtt, monitor.site, vitals, seq)
                await asyncio.sleep(1)

        task = asyncio.create_task(every_second())
        try:
            for bed, code, breach in BREACHES:
                vitals[bed] = {**NORMAL, **breach}  # sent within the second

                async def raised(bed: str = bed, code: str = code) -> bool:
                    return (await open_alarms(monitor)).get(bed, {}).get("code") == code
                await eventually(raised)
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def central_board(browser: Browser, monitor: RunningMonitor, count: int) -> Page:
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(f"{monitor.url}/?token={await monitor.token('nurse-cs', 'nurse')}")
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(page.locator(".tile")).to_have_count(count)
    await expect(page.locator("#alarm-bar .bar-alarm")).to_have_count(3)
    return page


async def bar(page: Page) -> list[tuple[str, str, str]]:
    entries = page.locator("#alarm-bar .bar-alarm")
    return [(await entry.get_attribute("data-priority") or "",
             await entry.locator(".where").inner_text(), await entry.locator(".what").inner_text())
            for entry in await entries.all()]


@pytest.mark.parametrize("count", [4, 16, 32])
async def test_every_chair_fits_the_screen_and_the_alarm_bar_is_in_order(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser, count: int
) -> None:
    async with station(monitor, mosquitto, count):
        page = await central_board(browser, monitor, count)
        assert await bar(page) == BAR_ORDER
        await expect(page.locator("#alarm-bar .bar-alarm").first.locator(".priority")).to_have_text(
            "▲▲▲ HIGH")
        for tile in await page.locator(".tile").all():
            box = await tile.bounding_box()
            assert box is not None
            assert box["x"] >= 0, box
            assert box["y"] >= 0, box
            assert box["x"] + box["width"] <= 1920, box
            assert box["y"] + box["height"] <= 1080, box
        assert await page.evaluate("document.scrollingElement.scrollHeight") <= 1080
        worst = page.locator(f'[data-bed="{monitor.site}/chair-02"] .worst')
        await expect(worst.locator(".priority")).to_have_text("▲▲▲ HIGH")
        await expect(worst.locator(".worst-text")).to_have_text("SpO₂ 84 ≤ 85 %")
        size = await worst.locator(".worst-what").evaluate(
            "e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 32  # px: "SpO₂ 84" to be read from 3 m
        first = page.locator(f'[data-bed="{monitor.site}/chair-01"]')
        await expect(first.locator('[data-vital="hr"]')).to_have_text("72")
        await expect(first.locator('[data-vital="spo2"]')).to_be_visible()
        await expect(first.locator('[data-vital="bp"]')).to_contain_text("122/76")
        await page.locator("#alarm-bar .bar-alarm").nth(1).click()
        target = page.locator(f'[data-bed="{monitor.site}/chair-04"]')
        await expect(target).to_be_focused()
        await expect(target).to_have_class(re.compile(r"\bhighlight\b"))
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=ARTIFACTS / f"board-{count}.png")


async def test_the_board_is_operated_from_the_keyboard(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    async with station(monitor, mosquitto, 16):
        page = await central_board(browser, monitor, 16)
        tile = page.locator(f'[data-bed="{monitor.site}/chair-01"]')
        await tile.focus()
        await page.keyboard.press("ArrowRight")
        focused = page.locator(f'[data-bed="{monitor.site}/chair-02"]')
        await expect(focused).to_be_focused()
        columns = int(await page.locator("#board").get_attribute("data-columns") or "0")
        await page.keyboard.press("ArrowDown")
        below = page.locator(f'[data-bed="{monitor.site}/{chair(2 + columns)}"]')
        await expect(below).to_be_focused()
        await page.keyboard.press("ArrowUp")
        await expect(focused).to_be_focused()

        await page.keyboard.press("a")
        async def acknowledged() -> bool:
            alarm = (await open_alarms(monitor))["chair-02"]
            return (alarm["state"], alarm["acknowledged_by"]) == ("acknowledged", "nurse-cs")
        await eventually(acknowledged)
        await expect(page.locator("#alarm-bar .bar-alarm").first).to_have_attribute(
            "data-state", "acknowledged")

        await page.locator("#alarm-bar .bar-alarm").nth(1).click()  # chair-04
        await page.keyboard.press("p")
        async def paused() -> bool:
            return (await open_alarms(monitor))["chair-04"]["state"] == "paused"
        await eventually(paused)
        assert (await open_alarms(monitor))["chair-03"]["state"] == "active"

        await page.keyboard.press("Enter")
        await expect(page).to_have_url(re.compile(r"/session\?id="))
        await expect(page.locator("#title")).to_have_text(f"p-chair-04 at {monitor.site}/chair-04")


async def test_a_viewer_s_keys_change_nothing(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    async with station(monitor, mosquitto, 4):
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await page.goto(f"{monitor.url}/?token={await monitor.token('screen-2', 'viewer')}")
        await expect(page.locator("#alarm-bar .bar-alarm")).to_have_count(3)
        await page.locator("#alarm-bar .bar-alarm").first.click()
        await page.keyboard.press("a")
        await page.keyboard.press("p")
        await asyncio.sleep(1)
        assert (await open_alarms(monitor))["chair-02"]["state"] == "active"
        await expect(page.locator(".worst-actions button")).to_have_count(0)


async def test_a_session_with_one_bp_point_is_charted_on_today_s_clock_with_its_limits(
    monitor: RunningMonitor, mosquitto: Mosquitto, browser: Browser
) -> None:
    session_id = await monitor.open_session("chair-1")
    await publish_reading(mosquitto, monitor.site, "chair-1",
                          reading(1, sbp=150, dbp=101, map=117))
    await stored(monitor, session_id, 1)
    page = await session_page(browser, monitor, session_id)
    await expect(page.locator("#chart-bp canvas")).to_have_count(1)
    ticks = await page.evaluate("charts['chart-bp'].axes[0]._values")
    assert ticks, "no time ticks"
    assert all(re.fullmatch(r"\d\d:\d\d", tick) for tick in ticks), ticks
    today = await page.evaluate("new Date().toDateString()")
    span = await page.evaluate("['min', 'max'].map((end) => charts['chart-bp'].scales.x[end])")
    assert [await page.evaluate(f"new Date({t} * 1000).toDateString()") for t in span] == [
        today, today]
    assert 10 * 60 <= span[1] - span[0] <= 20 * 60
    axes = await page.evaluate("""Object.fromEntries(Object.entries(charts).map(([id, u]) =>
        [id, u.axes.slice(1).map((axis) => [axis.label, axis.stroke(u)])]))""")
    assert axes == {
        "chart-hr-spo2": [["HR /min", "#c2410c"], ["SpO₂ %", "#2563eb"]],
        "chart-rr-etco2": [["RR /min", "#7c3aed"], ["EtCO₂ mmHg", "#0f766e"]],
        "chart-bp": [["SBP, DBP mmHg", "#1b1f24"]],
        "chart-temp": [["Temp °C", "#be185d"]],
    }
    bp_key = page.locator('.chart-key[data-chart="chart-bp"]')
    await expect(bp_key.locator(".limit")).to_contain_text(
        ["SBP ≥ 160 medium", "SBP ≥ 180 high", "SBP < 90 high", "DBP ≥ 100 medium"])
    await expect(bp_key.locator(".waiting")).to_have_text(
        "3 limits relative to the baseline apply once it is set (the infusion's start)")
    await expect(bp_key.locator(".alarm")).to_have_text("▼▲ alarm raised (pointing at its value)")
    await expect(page.locator('.chart-key[data-chart="chart-hr-spo2"] .limit')).to_contain_text(
        ["HR > 110 medium", "SpO₂ < 85 high"])
    plot = await page.locator("#chart-bp .u-over").bounding_box()
    legend = await page.locator("#chart-bp .u-legend").bounding_box()
    assert plot is not None
    assert legend is not None
    assert legend["y"] >= plot["y"] + plot["height"]  # the legend is outside the plot

    async with monitor.api() as http:
        (await http.post(f"/api/sessions/{session_id}/phase", json={
            "phase": "infusion", "acknowledge_warnings": True})).raise_for_status()
    await expect(bp_key.locator(".limit")).to_contain_text(
        ["SBP > 180 (baseline +20 %) medium"], timeout=10_000)
    await expect(bp_key.locator(".waiting")).to_have_count(0)
    await expect(bp_key.locator(".phase")).to_have_text(["baseline", "infusion"])
    ARTIFACTS.mkdir(exist_ok=True)
    await page.locator("#charts").screenshot(path=ARTIFACTS / "session-charts.png")
