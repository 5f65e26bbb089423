"""A full disk under a stream: the monitor stays up, says so loudly, and loses nothing.

The data directory is a small tmpfs of the test's own. It is filled while
readings stream, then given space again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.settings import Settings
from tests.fault_runs import fill, small_disk
from tests.integration.conftest import (
    Mosquitto,
    RunningMonitor,
    eventually,
    monitor_running,
    publisher,
    reading,
    system_alarms,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of the test's own."""
    mount = tmp_path / "disk"
    mount.mkdir()
    with small_disk(mount):
        yield mount


async def test_a_full_disk_raises_storage_failed_keeps_running_and_loses_nothing(
    monitor_settings: Settings, mosquitto: Mosquitto, site: str, disk: Path
) -> None:
    settings = monitor_settings.model_copy(update={"data_dir": disk / "var"})
    topic = f"infusion/{site}/chair-1/vitals"
    async with monitor_running(settings, site) as monitor:
        session_id = await monitor.open_session("chair-1")
        async with publisher(mosquitto) as mqtt:
            for seq in range(20):
                await mqtt.publish(topic, reading(seq, hr=72, spo2=98), qos=1)
            await eventually(lambda: count(monitor) == 20)
            filler = fill(disk)
            for seq in range(20, 400):
                await mqtt.publish(topic, reading(seq, hr=72, spo2=98), qos=1)

            async def loud() -> bool:
                return (await system_alarms(monitor)).get("storage_failed") == "high"
            await eventually(loud, timeout_s=20)
            async with monitor.api() as http:
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["store_writable"] is False
            for seq in range(400, 450):  # still taken from the broker? no: it stops acking
                await mqtt.publish(topic, reading(seq, hr=72, spo2=98), qos=1)
            filler.unlink()
            await eventually(lambda: count(monitor) == 450, timeout_s=30)

            async def quiet() -> bool:
                return "storage_failed" not in await system_alarms(monitor)
            await eventually(quiet, timeout_s=10)
        with monitor.db() as db:
            rows = db.execute("SELECT seq, COUNT(*) FROM readings WHERE session_id = ? "
                              "GROUP BY seq", (session_id,)).fetchall()
            history = [row[0] for row in db.execute(
                "SELECT transition FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id "
                "WHERE a.code = 'storage_failed' ORDER BY e.id")]
    assert sorted(seq for seq, _ in rows) == list(range(450))
    assert {n for _, n in rows} == {1}
    assert history == ["raised", "cleared"]


def count(monitor: RunningMonitor) -> int:
    with monitor.db() as db:
        return int(db.execute("SELECT COUNT(*) FROM readings").fetchone()[0])


async def test_a_bed_that_falls_silent_while_the_disk_is_full_still_raises_offline(
    monitor_settings: Settings, mosquitto: Mosquitto, site: str, disk: Path, tmp_path: Path
) -> None:
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text((ROOT / "config" / "thresholds.toml").read_text()
                          .replace("offline_after_s = 30", "offline_after_s = 3"))
    settings = monitor_settings.model_copy(update={"data_dir": disk / "var",
                                                   "thresholds_file": thresholds})
    async with monitor_running(settings, site) as monitor:
        await monitor.open_session("chair-1")
        await monitor.open_session("chair-2")
        async with publisher(mosquitto) as mqtt:
            await mqtt.publish(f"infusion/{site}/chair-2/vitals", reading(0, "mon-2", hr=70),
                               qos=1)
            await eventually(lambda: count(monitor) == 1)
            filler = fill(disk)
            for seq in range(50):  # chair-1 goes on; chair-2 has fallen silent
                await mqtt.publish(f"infusion/{site}/chair-1/vitals",
                                   reading(seq, "mon-1", hr=72), qos=1)

            async def loud() -> bool:
                return (await system_alarms(monitor)).get("storage_failed") == "high"
            await eventually(loud, timeout_s=20)

            async def offline() -> bool:
                async with monitor.api() as http:
                    board = (await http.get("/api/board")).json()
                return any(a["code"] == "offline" for b in board["beds"]
                           if b["bed"] == "chair-2" for a in b["alarms"])
            await eventually(offline, timeout_s=15)
            filler.unlink()  # so that the orderly stop can store what it took
