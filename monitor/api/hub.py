"""WebSocket fan-out: each board client has its own bounded queue.

A message is serialised once for all clients. A client whose queue is full is
not waited for: its queue is emptied and it is sent a fresh snapshot instead,
so a slow screen never slows ingest or the other screens. A screen that does
not take a frame within ``send_timeout_s`` is disconnected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from monitor.api.messages import (
    Message,
    alarm_message,
    device_message,
    reading_message,
    session_message,
)
from monitor.domain.alarms import Alarm
from monitor.domain.readings import DeviceStatus, Reading
from monitor.domain.sessions import Session

MAX_FRAME_MESSAGES: Final = 200


class BoardClient:
    """One connected board: its queue of serialised messages."""

    def __init__(self, queue_size: int) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.needs_snapshot = True
        self._wakeup = asyncio.Event()
        self.snapshots_sent = 0

    def offer(self, serialised: str) -> None:
        """Queue a message, or fall back to a fresh snapshot if the queue is full."""
        if self.needs_snapshot:
            return
        try:
            self._queue.put_nowait(serialised)
        except asyncio.QueueFull:
            while not self._queue.empty():
                self._queue.get_nowait()
            self.needs_snapshot = True
        self._wakeup.set()

    async def next_frame(self, snapshot: Callable[[], Message]) -> str:
        """The next text frame: a snapshot if one is due, else every queued message.

        Several messages go out as one JSON array.
        """
        while not self.needs_snapshot and self._queue.empty():
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.needs_snapshot:
            self.needs_snapshot = False
            self.snapshots_sent += 1
            return orjson.dumps(snapshot()).decode()
        first = self._queue.get_nowait()
        if self._queue.empty():
            return first
        parts = [first]
        while len(parts) < MAX_FRAME_MESSAGES and not self._queue.empty():
            parts.append(self._queue.get_nowait())
        return "[" + ",".join(parts) + "]"


class BoardHub:
    """Every connected board client: the board's feed (:class:`~monitor.app.ports.BoardFeed`)."""

    def __init__(self, queue_size: int, send_timeout_s: float = 5.0) -> None:
        self._queue_size = queue_size
        self.send_timeout_s = send_timeout_s
        self._clients: set[BoardClient] = set()

    @property
    def clients(self) -> int:
        """How many boards are connected."""
        return len(self._clients)

    def connect(self) -> BoardClient:
        """Register a new client; its first frame is a snapshot."""
        client = BoardClient(self._queue_size)
        self._clients.add(client)
        return client

    def disconnect(self, client: BoardClient) -> None:
        """Forget a client."""
        self._clients.discard(client)

    def publish(self, message: Message) -> None:
        """Send a message to every client without waiting for any of them."""
        if not self._clients:
            return
        serialised = orjson.dumps(message).decode()
        for client in self._clients:
            client.offer(serialised)

    def reading(self, reading: Reading, session_id: str | None, received_ms: int) -> None:
        """An accepted reading."""
        if self._clients:
            self.publish(reading_message(reading, session_id, received_ms))

    def alarm(self, alarm: Alarm, transition: str | None) -> None:
        """An alarm as it stands after ``transition``."""
        if self._clients:
            self.publish(alarm_message(alarm, transition))

    def device(self, status: DeviceStatus, received_ms: int) -> None:
        """A device went online or offline."""
        if self._clients:
            self.publish(device_message(status, received_ms))

    def session(self, session: Session, status: Mapping[str, Any] | None) -> None:
        """A session changed, with its discharge readiness and pause if given."""
        if self._clients:
            self.publish(session_message(session, status))
