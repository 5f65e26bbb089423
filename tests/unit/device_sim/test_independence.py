"""The simulator is a device in its own right: no module of it imports the monitor."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCES = sorted((Path(__file__).parents[3] / "device_sim").glob("*.py"))


def imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_simulator_has_sources() -> None:
    assert any(path.name == "runner.py" for path in SOURCES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_no_simulator_module_imports_the_monitor(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    from_monitor = [name for name in imported_modules(tree)
                    if name == "monitor" or name.startswith("monitor.")]
    assert from_monitor == [], f"{path.name} imports {', '.join(from_monitor)}"


@pytest.mark.parametrize(("source", "found"), [
    ("import monitor", ["monitor"]),
    ("import monitor.adapters.mqtt as m", ["monitor.adapters.mqtt"]),
    ("from monitor.domain.readings import UNITS", ["monitor.domain.readings"]),
    ("from monitor import demo", ["monitor"]),
    ("def f():\n    from monitor.adapters import mqtt_wire", ["monitor.adapters"]),
])
def test_the_check_sees_every_kind_of_import(source: str, found: list[str]) -> None:
    assert imported_modules(ast.parse(source)) == found
