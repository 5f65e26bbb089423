"""The command line, run from a folder that is not the monitor's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.cli import main


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no monitor in it, and no MONITOR_* settings."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("MONITOR_")]:
        monkeypatch.delenv(name)
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["token", "create", "--name", "nurse-kim", "--role", "nurse"],
    ["token", "list"],
    ["report", "sess-1"],
])
def test_a_command_on_the_records_finds_them_or_says_where_it_looked(
    elsewhere: Path, argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    database = elsewhere / "var" / "monitor.db"
    assert str(stopped.value) == (
        f"monitor: no monitor database at {database}: run this where the monitor runs, "
        "or set MONITOR_DATA_DIR to its data directory")
    assert not (elsewhere / "var").exists()  # nothing made where it was run
