"""Things break on purpose: nothing published is lost or stored twice, and it is said aloud."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fault_runs import FaultResult, broker_restart, monitor_killed, store_down
from tests.integration.conftest import Mosquitto
from tests.servers import influxdb

pytestmark = pytest.mark.integration

COUNT, RATE_HZ = 200, 100.0


def check(result: FaultResult) -> None:
    assert result.published == COUNT
    assert (result.stored, result.duplicates) == (COUNT, 0), result
    assert result.raised, f"{result.alarm} was not raised: {result}"


async def test_broker_restarted_mid_session(tmp_path: Path) -> None:
    result = await broker_restart(tmp_path, COUNT, RATE_HZ, down_s=2.0)
    check(result)
    assert result.cleared


async def test_monitor_killed_and_restarted(tmp_path: Path, mosquitto: Mosquitto) -> None:
    check(await monitor_killed(tmp_path, mosquitto.port, COUNT, RATE_HZ))


async def test_store_down_for_a_stretch(tmp_path: Path, mosquitto: Mosquitto) -> None:
    (tmp_path / "influx").mkdir()
    with influxdb(tmp_path / "influx") as influx:
        result = await store_down(tmp_path, mosquitto.port, influx, COUNT, RATE_HZ, down_s=3.0)
    check(result)
    assert result.cleared
