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
import struct
from collections.abc import Callable, Iterable
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

READS_PER_WAKEUP: Final = 256
RECV_BYTES: Final = 65536
PUBLISH: Final = 0x30
PUBACK: Final = 0x40
_PUBACK: Final = struct.Struct("!BBH")

Take = Callable[[bytes, bytes, int, int], None]
"""Told of a PUBLISH: (topic as sent, payload, packet id, QoS)."""


class BufferedClient(paho.Client):
    """paho's client, reading its socket 64 KiB at a time, with a fast path for PUBLISH.

    paho asks the socket for a packet in three or more ``recv`` calls (the
    command byte, each length byte, the rest): a system call per piece. This
    serves those pieces from one read. ``_sock_recv`` and ``_packet_read``
    are paho's own seams for reading (private: paho is pinned to 2.x, and the
    MQTT integration tests run through it).

    A PUBLISH at QoS 0, or at QoS 1 with ``manual_ack``, that lies whole in
    the buffer and carries no MQTT 5 properties goes straight to ``take``:
    paho would decode an empty property set, build a message object and match
    its topic against filtered callbacks for it, none of which the monitor
    uses. Any other packet (and any such PUBLISH while ``take`` is unset)
    goes through paho as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - paho's own
        super().__init__(*args, **kwargs)
        self._buffer = b""
        self._pos = 0
        self.take: Take | None = None

    @property
    def buffered(self) -> int:
        """Bytes read from the socket that paho has not taken yet."""
        return len(self._buffer) - self._pos

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._pos == len(self._buffer):
            data = super()._sock_recv(RECV_BYTES)
            if not data:
                return b""  # the broker closed the connection
            self._buffer, self._pos = data, 0
        start = self._pos
        piece = self._buffer[start:start + bufsize]
        self._pos = start + len(piece)
        return piece

    def _packet_read(self) -> MQTTErrorCode:
        if self._in_packet["command"] == 0 and self.take is not None and self._take_publish():
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._packet_read()

    def _take_publish(self) -> bool:
        """Hand the buffer's next packet to ``take`` if it is a PUBLISH for the fast path.

        An empty buffer is filled first: a message that comes alone (readings
        spread evenly over time) opens a read of its own.
        """
        if self._pos == len(self._buffer) and not self._fill():
            return False
        buf, start = self._buffer, self._pos
        header = buf[start] if start < len(buf) else 0
        qos = (header >> 1) & 3
        if header & 0xF0 != PUBLISH or qos > 1 or (qos and not self._manual_ack):
            return False
        pos, length = _remaining_length(buf, start + 1)
        packet_end = pos + length
        if length < 2 or packet_end > len(buf):
            return False
        topic_end = pos + 2 + (buf[pos] << 8 | buf[pos + 1])
        payload_start = topic_end + 2 * qos
        if self._protocol == paho.MQTTv5:
            # properties, or no property length at all: paho's part
            no_properties = payload_start < packet_end and buf[payload_start] == 0
            payload_start += 1
        else:
            no_properties = True
        if topic_end == pos + 2 or payload_start > packet_end or not no_properties:
            return False
        mid = buf[topic_end] << 8 | buf[topic_end + 1] if qos else 0
        self._pos = packet_end
        with self._msgtime_mutex:
            self._last_bytes_received = paho.time_func()
        assert self.take is not None  # checked by _packet_read
        self.take(buf[pos + 2:topic_end], buf[payload_start:packet_end], mid, qos)
        return True

    def _fill(self) -> bool:
        """Read the socket into the empty buffer; False if nothing came.

        Nothing to read, a failed connection and a closed one are all left to
        paho's own read, which meets them again and handles them as it does.
        """
        try:
            data = super()._sock_recv(RECV_BYTES)
        except OSError:
            return False
        if not data:
            return False
        self._buffer, self._pos = data, 0
        return True

    def puback(self, mids: Iterable[int]) -> None:
        """Acknowledge QoS 1 messages (``manual_ack``): their PUBACKs queued as one write."""
        packet = b"".join(_PUBACK.pack(PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(PUBACK, packet, 0, 0)


def _remaining_length(buf: bytes, pos: int) -> tuple[int, int]:
    """Where a packet's remaining length at ``pos`` ends, and its value.

    A length that runs past the buffer, or over the 4 bytes MQTT allows,
    comes back as one no packet in the buffer can have.
    """
    length = 0
    for shift in (0, 7, 14, 21):
        if pos == len(buf):
            break
        byte = buf[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return pos, length
    return pos, len(buf)


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
