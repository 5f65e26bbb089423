"""A second monitor started on a running one's data directory is refused before it writes."""

from __future__ import annotations

import pytest

from monitor.service import Monitor
from monitor.settings import Settings, SettingsError
from tests.integration.conftest import RunningMonitor, monitor_running

pytestmark = pytest.mark.integration


def records(monitor: RunningMonitor) -> list[tuple[object, ...]]:
    """The tokens, and the start mark a monitor writes (not its heartbeat, which moves)."""
    with monitor.db() as db:
        return [tuple(row) for row in db.execute(
            "SELECT * FROM tokens UNION ALL SELECT key, value, NULL, NULL, NULL, NULL "
            "FROM meta WHERE key != 'last_seen_ms' ORDER BY 1")]


async def test_a_second_monitor_on_the_same_data_is_refused_and_changes_nothing(
    monitor_settings: Settings, site: str
) -> None:
    async with monitor_running(monitor_settings, site) as first:
        nurse = await first.token("nurse-kim", "nurse")
        before = records(first)
        second = monitor_settings.model_copy(update={"mqtt_client_id": f"second-{site}"})
        with pytest.raises(SettingsError, match=r"another monitor \(pid \d+\) is running on"):
            async with Monitor(second, demo=True):
                pass
        after = records(first)
        async with first.api(nurse) as http:
            me = await http.get("/api/me")
            alarms = (await http.get("/api/alarms")).json()["alarms"]
    assert after == before
    assert me.status_code == 200
    assert "monitor_restarted" not in [alarm["code"] for alarm in alarms]
