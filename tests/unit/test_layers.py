"""The import contract between the layers, checked over every module's source (AST).

- ``monitor.domain`` is pure: the standard library, numpy, pure data
  libraries (pydantic, orjson) and itself;
- ``monitor.app`` (the use cases) imports neither an adapter nor the API, nor
  what wires them (``service``, ``stores``, ``cli``, ``demo``);
- ``monitor.adapters`` and ``monitor.api`` do not import each other, nor
  what wires them;
- ``device_sim`` is a device in its own right: it imports nothing of ``monitor``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOMAIN_LIBRARIES = {"numpy", "pydantic", "pydantic_core", "orjson"}
WIRING = ("monitor.service", "monitor.stores", "monitor.cli", "monitor.demo", "monitor.__main__")
FORBIDDEN = {
    "monitor.app": ("monitor.adapters", "monitor.api", *WIRING),
    "monitor.adapters": ("monitor.api", *WIRING),
    "monitor.api": ("monitor.adapters", *WIRING),
    "device_sim": ("monitor",),
}


def imported_modules(tree: ast.AST) -> list[str]:
    """Every module an import statement names (absolute imports; the project uses no others)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def domain_violations(names: list[str]) -> list[str]:
    """Imports a domain module may not make."""
    return [name for name in names
            if not within(name, "monitor.domain")
            and name.split(".")[0] not in sys.stdlib_module_names | DOMAIN_LIBRARIES]


def layer_violations(names: list[str], package: str) -> list[str]:
    """Imports a module of ``package`` may not make."""
    return [name for name in names
            if any(within(name, banned) for banned in FORBIDDEN[package])]


def read(path: Path) -> list[str]:
    return imported_modules(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))


@pytest.mark.parametrize("path", sources("monitor.domain"), ids=module_name)
def test_the_domain_imports_only_itself_the_standard_library_and_data_libraries(
    path: Path,
) -> None:
    assert domain_violations(read(path)) == []


@pytest.mark.parametrize(
    ("package", "path"),
    [(package, path) for package in FORBIDDEN for path in sources(package)],
    ids=lambda value: module_name(value) if isinstance(value, Path) else value,
)
def test_no_layer_imports_what_it_must_not(package: str, path: Path) -> None:
    assert layer_violations(read(path), package) == []


def test_every_layer_has_sources() -> None:
    names = {module_name(path) for package in [*FORBIDDEN, "monitor.domain"]
             for path in sources(package)}
    for expected in ("monitor.domain.engine", "monitor.app.ports", "monitor.app.ingest",
                     "monitor.adapters.mqtt", "monitor.api.app", "device_sim.runner"):
        assert expected in names


@pytest.mark.parametrize(("source", "found"), [
    ("import monitor", ["monitor"]),
    ("import monitor.adapters.mqtt as m", ["monitor.adapters.mqtt"]),
    ("from monitor.domain.readings import UNITS", ["monitor.domain.readings"]),
    ("from monitor import demo", ["monitor"]),
    ("def f():\n    from monitor.adapters import mqtt", ["monitor.adapters"]),
])
def test_the_check_sees_every_kind_of_import(source: str, found: list[str]) -> None:
    assert imported_modules(ast.parse(source)) == found


def test_the_check_names_what_breaks_the_contract() -> None:
    assert domain_violations(["json", "numpy.typing", "monitor.domain.alarms"]) == []
    assert domain_violations(["httpx", "monitor.app.ports"]) == ["httpx", "monitor.app.ports"]
    assert layer_violations(["monitor.adapters.sqlite", "monitor.domain.alarms"],
                            "monitor.app") == ["monitor.adapters.sqlite"]
    assert layer_violations(["monitor.api.messages"], "monitor.adapters") == [
        "monitor.api.messages"]
    assert layer_violations(["monitor.service"], "monitor.api") == ["monitor.service"]
    assert layer_violations(["monitor"], "device_sim") == ["monitor"]
    assert layer_violations(["monitoring"], "device_sim") == []
