"""One paho-mqtt client on one connection, driven by the asyncio event loop.

paho's socket is watched with ``add_reader`` and ``add_writer`` (as aiomqtt
does), and read 64 KiB at a time. :mod:`monitor.adapters.mqtt` makes a new
link for every connection, so an acknowledgement can never go out on a
connection other than the one its message came on.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

READS_PER_WAKEUP: Final = 256
RECV_BYTES: Final = 65536


class BufferedClient(paho.Client):
    """paho's client, reading its socket 64 KiB at a time.

    paho asks the socket for a packet in three or more ``recv`` calls (the
    command byte, each length byte, the rest): a system call per piece. This
    serves those pieces from one read. ``_sock_recv`` is paho's own seam for
    reading (private: paho is pinned to 2.x, and the MQTT integration tests
    run through it).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - paho's own
        super().__init__(*args, **kwargs)
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes read from the socket that paho has not taken yet."""
        return len(self._buffer)

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self._buffer:
            data = super()._sock_recv(RECV_BYTES)
            if not data:
                return b""  # the broker closed the connection
            self._buffer += data
        piece = bytes(self._buffer[:bufsize])
        del self._buffer[:bufsize]
        return piece


class Link:
    """One paho client on one connection, driven by the event loop."""

    def __init__(
        self, client: BufferedClient, number: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.client = client
        self.number = number
        self.loop = loop
        self.connack: asyncio.Future[tuple[bool, ReasonCode]] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        self.replies: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self.sock: socket.socket | None = None
        self.reading = False
        self.writing = False
        self.paused = False
        self.batching = False
        """While a batch of acks is queued: they go out in one write at its end."""

    def watch(self, sock: socket.socket) -> None:
        """The connection's socket is open: read it."""
        self.sock = sock
        self.resume()

    def resume(self) -> None:
        """Read the socket again (there is room in the inbox)."""
        if self.sock is not None and not self.reading and not self.closed.done():
            self.loop.add_reader(self.sock, self.read)
            self.reading, self.paused = True, False
            if self.client.buffered:  # read but not taken: the selector will not say so
                self.loop.call_soon(self.read)

    def pause(self) -> None:
        """Stop reading the socket (the broker keeps what is not read)."""
        if self.sock is not None and self.reading:
            self.loop.remove_reader(self.sock)
            self.reading, self.paused = False, True

    def read(self) -> None:
        """The socket is readable: let paho take what arrived."""
        # paho takes one packet per call: take what one read of the socket held,
        # then let the selector say whether there is more.
        for _ in range(READS_PER_WAKEUP):
            if not self.reading or self.client.loop_read() != paho.MQTT_ERR_SUCCESS:
                return
            sock = self.sock
            if not self.client.buffered and not (isinstance(sock, ssl.SSLSocket)
                                                 and sock.pending()):
                return
        if self.reading:  # more is buffered: another turn, after the loop's other work
            self.loop.call_soon(self.read)

    def want_write(self) -> None:
        """Paho has bytes to send: write them when the socket takes them."""
        if self.sock is not None and not self.writing and not self.batching:
            self.loop.add_writer(self.sock, self.client.loop_write)
            self.writing = True

    def done_writing(self) -> None:
        """Paho has sent everything."""
        if self.sock is not None and self.writing:
            self.loop.remove_writer(self.sock)
            self.writing = False

    def forget_socket(self) -> None:
        """The socket closed: stop watching it."""
        self.pause()
        self.done_writing()
        self.sock = None

    def lost(self, why: str) -> None:
        """The connection is over, for ``why``."""
        if not self.closed.done():
            self.closed.set_result(why)


def on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Run ``callback`` on ``loop``: now if called on it, else as soon as it can."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback()
    else:
        loop.call_soon_threadsafe(callback)
