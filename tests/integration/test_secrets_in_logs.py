"""No password or token ever appears in what the monitor prints or logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import Mosquitto, free_port, start_up_output

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
PASSWORD = "s3cret-Passw0rd-of-the-clinic"
TOKEN = "bootstrap-token-never-printed-0123456789"


def test_monitor_run_prints_and_logs_no_broker_password_and_no_token(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    text = start_up_output({
        "MONITOR_MQTT_URL": f"mqtt://monitor:{PASSWORD}@127.0.0.1:{mosquitto.port}",
        "MONITOR_HTTP_PORT": str(free_port()), "MONITOR_DATA_DIR": str(tmp_path / "var"),
        "MONITOR_BOOTSTRAP_TOKEN": TOKEN,
    })
    assert "MQTT broker: mqtt://127.0.0.1:" in text, text
    assert PASSWORD not in text
    assert TOKEN not in text
