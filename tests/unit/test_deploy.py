"""docker-compose.yml, checked without a Docker engine: services, ports, volumes, files, names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).parents[2]
OPERATOR_SECRETS = ROOT / "secrets"
"""Made by the operator (README "Deploy"), never committed."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_the_services_and_their_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"mosquitto", "influxdb", "monitor", "device-sim"}
    for name in ("mosquitto", "influxdb", "monitor"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped"
    assert services["monitor"]["depends_on"] == {
        "mosquitto": {"condition": "service_healthy"},
        "influxdb": {"condition": "service_healthy"}}
    assert services["device-sim"]["profiles"] == ["demo"]
    assert "8000:8000" in services["monitor"]["ports"]
    assert "1883:1883" in services["mosquitto"]["ports"]


def test_every_mounted_file_exists_and_every_volume_is_declared(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                path = ROOT / source
                assert path.exists() or path.is_relative_to(OPERATOR_SECRETS), (name, source)
            else:
                assert source in declared, (name, source)
    assert "secrets/" in (ROOT / ".gitignore").read_text().split()


def test_the_broker_config_finds_its_files_in_the_container(compose: dict[str, Any]) -> None:
    mounted = {mount.split(":")[1] for mount in compose["services"]["mosquitto"]["volumes"]}
    config = (ROOT / "config" / "mosquitto.conf").read_text()
    for key in ("password_file", "acl_file"):
        [path] = re.findall(rf"^{key} (\S+)", config, re.MULTILINE)
        assert path in mounted, key
    [data] = re.findall(r"^persistence_location (\S+)", config, re.MULTILINE)
    assert data.rstrip("/") in mounted


def test_the_monitor_environment_names_real_settings(compose: dict[str, Any]) -> None:
    known = {ENV_PREFIX + field.upper() for field in Settings.model_fields}
    environment = compose["services"]["monitor"]["environment"]
    assert set(environment) <= known, set(environment) - known
    assert environment["MONITOR_STORE"] == "influx"
