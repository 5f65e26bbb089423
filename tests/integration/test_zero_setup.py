"""The README's first command, run as a newcomer would: a board of 6 chairs that update, alarms
paged to the demo's log, and sessions that finish with a report."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]


def readme_command(name: str) -> list[str]:
    """The README's command that starts with ``./dev <name>``."""
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.strip().startswith(f"./dev {name}"):
            return line.split()
    raise AssertionError(f"README.md has no ./dev {name} command")


@dataclass
class Demo:
    url: str
    token: str

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=5,
                         headers={"Authorization": f"Bearer {self.token}"})


@contextmanager
def running_demo(tmp_path: Path, *extra: str) -> Iterator[Demo]:
    """The README's demo command (with ``extra`` arguments), its data in ``tmp_path/var``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= {
        "MONITOR_HTTP_PORT": str(free_port()),
        "MONITOR_EMBEDDED_BROKER_PORT": str(free_port()),
        "MONITOR_DATA_DIR": str(tmp_path / "var"),
    }
    process = subprocess.Popen(
        [*readme_command("demo"), *extra], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    match = None
    deadline = time.monotonic() + 120
    output = []
    while match is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        match = re.match(r"Dashboard: (http://\S+)/\?token=(\S+)", line)
    try:
        assert match is not None, "no dashboard URL with its token printed:\n" + "".join(output)
        yield Demo(match.group(1), match.group(2))
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, "".join(output) + rest


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with running_demo(tmp_path) as running:
        yield running


def beds(demo: Demo) -> dict[str, dict[str, object]]:
    board = demo.get("/api/board").json()
    return {b["bed"]: b for b in board["beds"]}


def test_demo_shows_six_chairs_updating(demo: Demo) -> None:
    assert httpx.get(f"{demo.url}/", timeout=5).text.count("board.js") == 1
    assert httpx.get(f"{demo.url}/api/board", timeout=5).status_code == 401
    assert demo.get("/api/me").json() == {"name": "demo-nurse", "role": "nurse"}
    deadline = time.monotonic() + 20
    while len(first := beds(demo)) < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sorted(first) == ["bed-01", "bed-02", "bed-03", "bed-04", "bed-05", "bed-06"]
    time.sleep(2.5)
    second = beds(demo)
    for bed, tile in second.items():
        assert tile["device_state"] == "online"
        assert tile["session"] is not None, f"{bed} has no session"
        before, after = first[bed]["last_received_ms"], tile["last_received_ms"]
        assert isinstance(before, int)
        assert isinstance(after, int)
        assert after > before, bed
        vitals = tile["vitals"]
        assert isinstance(vitals, dict)
        assert {"hr", "spo2", "rr", "etco2", "sbp", "dbp"} <= set(vitals)


def test_the_demo_pages_its_alarms_to_a_log_and_finishes_sessions_with_a_report(
    tmp_path: Path,
) -> None:
    pages = tmp_path / "var" / "pages.log"
    with running_demo(tmp_path, "--speed", "150") as demo:
        deadline = time.monotonic() + 90
        paged: list[dict[str, object]] = []
        ended: list[dict[str, object]] = []
        while not (paged and ended) and time.monotonic() < deadline:
            time.sleep(0.5)
            lines = pages.read_text().splitlines() if pages.exists() else []
            paged = [page for page in map(json.loads, lines)
                     if page.get("bed") == "bed-05" and page.get("code") == "sensor_off"]
            ended = [s for s in demo.get("/api/sessions").json()["sessions"]
                     if s["phase"] == "ended"]
        assert paged, pages.read_text() if pages.exists() else "no pages.log"
        assert ended, "no session ended"
        report = demo.get(f"/api/sessions/{ended[0]['id']}/report").json()
        infusion = demo.get(f"/api/sessions/{ended[0]['id']}/infusion").json()
    assert paged[0]["target"] == "demo-log"
    assert report["session"]["phase"] == "ended"
    assert [e["event"] for e in infusion["events"]] == ["start", "stop"]
