"""The deployed HAProxy configuration (config/haproxy.cfg) in front of an active and a standby.

Debian's haproxy, with only the addresses changed: it sends boards to the
active monitor, and to the new one after a failover.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.integration.conftest import BOOTSTRAP, eventually
from tests.integration.test_failover import FAILOVER_S, database, pair, server
from tests.servers import MonitorProcess, haproxy

pytestmark = pytest.mark.integration
__all__ = ["database", "pair", "server"]  # the fixtures, shared with test_failover


async def snapshot(front: str) -> dict[str, Any]:
    """The first frame a board gets through HAProxy."""
    url = front.replace("http://", "ws://") + f"/ws/board?token={BOOTSTRAP}"
    async with websockets.connect(url) as board:
        frame: dict[str, Any] = json.loads(await board.recv())
    return frame


async def read_until_closed(board: websockets.ClientConnection) -> None:
    async with asyncio.timeout(5):
        while True:
            await board.recv()


def system_codes(frame: dict[str, Any]) -> set[str]:
    return {alarm["code"] for bed in frame["beds"] if bed["site"] == "system"
            for alarm in bed["alarms"]}


async def test_a_board_reaches_the_active_through_haproxy_and_the_new_one_after_a_failover(
    pair: list[MonitorProcess], tmp_path: Path,
) -> None:
    a, b = pair
    with haproxy(tmp_path, [a.port, b.port]) as front:
        async def standby_marked_down() -> bool:  # HAProxy starts with every server up
            async with httpx.AsyncClient() as http:
                codes = [(await http.get(f"{front}/readyz")).status_code for _ in range(4)]
            return codes == [200] * 4
        await eventually(standby_marked_down, timeout_s=5)
        before = await snapshot(front)
        assert before["type"] == "snapshot"
        assert "monitor_failover" not in system_codes(before)

        url = front.replace("http://", "ws://") + f"/ws/board?token={BOOTSTRAP}"
        async with websockets.connect(url) as board:
            await board.recv()
            a.kill()
            with pytest.raises(websockets.ConnectionClosed):
                await read_until_closed(board)

        async def on_the_new_active() -> bool:
            try:
                return "monitor_failover" in system_codes(await snapshot(front))
            except (OSError, websockets.InvalidStatus, websockets.ConnectionClosed):
                return False
        await eventually(on_the_new_active, timeout_s=FAILOVER_S + 3, interval_s=0.25)
