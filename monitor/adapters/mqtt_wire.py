"""The MQTT 3.1.1 / 5 packets the monitor's client sends and reads, as bytes.

Only what a subscriber with late acknowledgement and an occasional QoS 1
publish needs: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH, PUBACK,
PINGREQ/PINGRESP and DISCONNECT. :class:`PacketReader` takes the byte stream
in whatever chunks the socket gives and yields whole packets, so a burst of
readings is parsed in one pass without a call per byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

CONNECT: Final = 1
CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
SUBSCRIBE: Final = 8
SUBACK: Final = 9
PINGREQ: Final = 12
PINGRESP: Final = 13
DISCONNECT: Final = 14

PINGREQ_PACKET: Final = b"\xc0\x00"
DISCONNECT_PACKET: Final = b"\xe0\x00"
MAX_PACKET_BYTES: Final = 1 << 20

PROPERTY_SESSION_EXPIRY: Final = 0x11
PROPERTY_RECEIVE_MAXIMUM: Final = 0x21

CONNACK_REASONS: Final = {
    1: "unacceptable protocol version", 2: "client identifier rejected",
    3: "server unavailable", 4: "bad user name or password", 5: "not authorized",
    0x80: "unspecified error", 0x84: "unsupported protocol version",
    0x85: "client identifier not valid", 0x86: "bad user name or password",
    0x87: "not authorized", 0x88: "server unavailable", 0x89: "server busy",
    0x8A: "banned", 0x8C: "bad authentication method", 0x95: "packet too large",
    0x97: "quota exceeded", 0x9F: "connection rate exceeded",
}


class ProtocolError(Exception):
    """The broker sent something this client cannot take."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One whole packet: its type, the low four bits of its first byte, and its body."""

    kind: int
    flags: int
    body: bytes


def varint(value: int) -> bytes:
    """MQTT's variable byte integer."""
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


@dataclass(frozen=True, slots=True)
class Will:
    """The message the broker publishes if the connection drops without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def connect(
    client_id: str,
    *,
    v5: bool,
    keepalive_s: int,
    username: str | None = None,
    password: str | None = None,
    clean: bool = False,
    session_expiry_s: int = 0,
    receive_maximum: int = 65535,
    will: Will | None = None,
) -> bytes:
    """CONNECT; a persistent session unless ``clean``."""
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    flags |= 0x02 if clean else 0
    if will is not None:
        flags |= 0x04 | will.qos << 3 | (0x20 if will.retain else 0)
    body = _string("MQTT") + bytes([5 if v5 else 4, flags]) + keepalive_s.to_bytes(2, "big")
    if v5:
        properties = (bytes([PROPERTY_SESSION_EXPIRY]) + session_expiry_s.to_bytes(4, "big")
                      + bytes([PROPERTY_RECEIVE_MAXIMUM]) + receive_maximum.to_bytes(2, "big"))
        body += varint(len(properties)) + properties
    body += _string(client_id)
    if will is not None:
        body += (b"\x00" if v5 else b"") + _string(will.topic)
        body += len(will.payload).to_bytes(2, "big") + will.payload
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return _packet(CONNECT << 4, body)


def subscribe(packet_id: int, topics: list[tuple[str, int]], *, v5: bool) -> bytes:
    """SUBSCRIBE to each (filter, maximum QoS)."""
    body = packet_id.to_bytes(2, "big") + (b"\x00" if v5 else b"")
    for topic, qos in topics:
        body += _string(topic) + bytes([qos])
    return _packet(SUBSCRIBE << 4 | 0x02, body)


def publish(
    topic: str, payload: bytes, *, qos: int, packet_id: int, v5: bool, retain: bool = False
) -> bytes:
    """PUBLISH (``packet_id`` is left out at QoS 0)."""
    body = _string(topic) + (packet_id.to_bytes(2, "big") if qos else b"")
    body += (b"\x00" if v5 else b"") + payload
    return _packet(PUBLISH << 4 | qos << 1 | retain, body)


def puback(packet_id: int) -> bytes:
    """PUBACK with success (the reason code may be left out in MQTT 5 too)."""
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


class PacketReader:
    """Splits the byte stream from the broker into packets."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Packet]:
        """Take the next bytes; yields every packet now complete.

        Raises:
            ProtocolError: A length is malformed or over ``MAX_PACKET_BYTES``.
        """
        buffer = self._buffer
        buffer += data
        position, end = 0, len(buffer)
        try:
            while end - position >= 2:
                length, shift, index = 0, 0, position + 1
                while True:
                    if index >= end:
                        return
                    digit = buffer[index]
                    length |= (digit & 0x7F) << shift
                    index += 1
                    if not digit & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        raise ProtocolError("malformed remaining length")
                if length > MAX_PACKET_BYTES:
                    raise ProtocolError(f"packet of {length} bytes is over the limit")
                if index + length > end:
                    return
                first = buffer[position]
                yield Packet(first >> 4, first & 0x0F, bytes(buffer[index:index + length]))
                position = index + length
        finally:
            del buffer[:position]


def skip_properties(body: bytes, index: int) -> int:
    """The index just past an MQTT 5 property block that starts at ``index``."""
    length, shift = 0, 0
    while True:
        digit = body[index]
        index += 1
        length |= (digit & 0x7F) << shift
        if not digit & 0x80:
            return index + length
        shift += 7


def read_publish(packet: Packet, *, v5: bool) -> tuple[str, bytes, int, int]:
    """(topic, payload, QoS, packet id; 0 for QoS 0) of a PUBLISH.

    Raises:
        ProtocolError: QoS 3, or a topic that is not UTF-8.
    """
    body = packet.body
    qos = (packet.flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    end = 2 + int.from_bytes(body[:2], "big")
    try:
        topic = body[2:end].decode()
    except UnicodeDecodeError:
        raise ProtocolError("PUBLISH topic is not UTF-8") from None
    packet_id = 0
    if qos:
        packet_id = int.from_bytes(body[end:end + 2], "big")
        end += 2
    if v5:
        end = skip_properties(body, end)
    return topic, body[end:], qos, packet_id


def read_connack(packet: Packet) -> tuple[bool, int]:
    """(session present, reason code) of a CONNACK."""
    if packet.kind != CONNACK or len(packet.body) < 2:
        raise ProtocolError(f"expected CONNACK, got packet type {packet.kind}")
    return bool(packet.body[0] & 0x01), packet.body[1]


def read_suback(packet: Packet, *, v5: bool) -> tuple[int, list[int]]:
    """(packet id, granted QoS or reason code per filter) of a SUBACK."""
    body = packet.body
    index = skip_properties(body, 2) if v5 else 2
    return int.from_bytes(body[:2], "big"), list(body[index:])


def read_packet_id(packet: Packet) -> int:
    """The packet id at the start of a PUBACK."""
    return int.from_bytes(packet.body[:2], "big")
