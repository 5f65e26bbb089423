"""The monitor's own alarms across a restart: an event stands until acknowledged; a condition
is judged afresh."""

from __future__ import annotations

import pytest

from monitor.adapters.sqlite import SqliteStore
from monitor.app.ports import Batch
from monitor.app.system_alarms import SYSTEM_BED
from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.settings import Settings
from tests.integration.conftest import crash_mark, monitor_running

pytestmark = pytest.mark.integration


async def stale_broker_alarm(settings: Settings) -> None:
    """A ``broker_offline`` that stood when the monitor stopped."""
    store = SqliteStore(settings.data_dir / "monitor.db")
    await store.open()
    try:
        alarm = Alarm(id="stale-1", bed=SYSTEM_BED, session_id=None, kind="technical",
                      code="broker_offline", vital=None, priority="high", state="active",
                      value=None, limit=None, raised_ms=1_700_000_000_000,
                      updated_ms=1_700_000_000_000)
        await store.write(Batch(alarm_events=[AlarmEvent("raised", alarm)]))
    finally:
        await store.close()


async def test_an_unacknowledged_event_stands_on_the_board_after_a_restart(
    monitor_settings: Settings, site: str
) -> None:
    async with monitor_running(monitor_settings, site):
        pass
    crash_mark(monitor_settings)
    async with monitor_running(monitor_settings, site) as second, second.api() as http:
        [raised] = [a for a in (await http.get("/api/alarms")).json()["alarms"]
                    if a["code"] == "monitor_restarted"]
    await stale_broker_alarm(monitor_settings)
    async with monitor_running(monitor_settings, site) as third, third.api() as http:
        board = (await http.get("/api/board")).json()
        open_alarms = (await http.get("/api/alarms", params={"state": "open"})).json()["alarms"]
        acknowledged = await http.post(f"/api/alarms/{raised['id']}/ack")
        after = (await http.get("/api/board")).json()
    [tile] = [b for b in board["beds"] if b["site"] == "system"]
    assert [(a["id"], a["code"], a["state"]) for a in tile["alarms"]] == [
        (raised["id"], "monitor_restarted", "active")]
    assert [a["code"] for a in open_alarms] == ["monitor_restarted"]  # broker_offline: cleared
    assert acknowledged.status_code == 200
    assert [b["alarms"] for b in after["beds"] if b["site"] == "system"] == [[]]
