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


MONITORS = ("monitor-a", "monitor-b")


def test_the_services_and_their_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"mosquitto", "influxdb", "postgres", *MONITORS, "haproxy",
                             "device-sim"}
    for name in ("mosquitto", "influxdb", "postgres", *MONITORS):
        assert services[name]["healthcheck"]["test"], name
    for name in ("mosquitto", "influxdb", "postgres", *MONITORS, "haproxy"):
        assert services[name]["restart"] == "unless-stopped", name
    for name in MONITORS:
        assert services[name]["depends_on"] == {
            "mosquitto": {"condition": "service_healthy"},
            "influxdb": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"}}
        assert "ports" not in services[name]  # boards reach the active through HAProxy
        assert "/healthz" in services[name]["healthcheck"]["test"][-1]  # a standby is healthy
    assert services["device-sim"]["profiles"] == ["demo"]
    assert "8000:8000" in services["haproxy"]["ports"]
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
    environments = [compose["services"][name]["environment"] for name in MONITORS]
    for environment in environments:
        assert set(environment) <= known, set(environment) - known
        assert environment["MONITOR_STORE"] == "influx"
        assert environment["MONITOR_DATABASE_URL"].startswith("postgresql://")
    assert [e["MONITOR_INSTANCE"] for e in environments] == list(MONITORS)
    first, second = ({k: v for k, v in e.items() if k != "MONITOR_INSTANCE"}
                     for e in environments)
    assert first == second  # one broker session, one database: only the name differs
    volumes = [compose["services"][name]["volumes"] for name in MONITORS]
    assert volumes[0] != volumes[1]


def test_haproxy_checks_each_monitor_and_sends_boards_to_the_active(
    compose: dict[str, Any],
) -> None:
    mounted = {mount.split(":")[0]: mount.split(":")[1]
               for mount in compose["services"]["haproxy"]["volumes"]}
    assert mounted["./config/haproxy.cfg"] == "/usr/local/etc/haproxy/haproxy.cfg"
    config = (ROOT / "config" / "haproxy.cfg").read_text()
    assert "option httpchk GET /readyz" in config
    assert """http-check expect ! string '"role":"standby"'""" in config
    for name in MONITORS:
        assert f"server {name} {name}:8000 check" in config


def k8s(kind: str) -> dict[str, Any]:
    """The one manifest of ``kind`` in deploy/k8s."""
    found = [document for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
             for document in yaml.safe_load_all(path.read_text())
             if document and document.get("kind") == kind]
    assert len(found) == 1, kind
    manifest: dict[str, Any] = found[0]
    return manifest


def test_kubernetes_runs_two_monitors_and_routes_to_the_ready_one() -> None:
    deployment, service, budget = k8s("Deployment"), k8s("Service"), k8s("PodDisruptionBudget")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    assert budget["spec"]["selector"]["matchLabels"] == labels
    assert budget["spec"]["minAvailable"] == 1
    [container] = spec["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    known = {ENV_PREFIX + field.upper() for field in Settings.model_fields}
    names = {variable["name"] for variable in container["env"]}
    assert names <= known, names - known
    assert {"MONITOR_DATABASE_URL", "MONITOR_INSTANCE"} <= names
    resources = yaml.safe_load((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())
    assert sorted(resources["resources"]) == sorted(
        path.name for path in (ROOT / "deploy" / "k8s").glob("*.yaml")
        if path.name != "kustomization.yaml")
