"""The MQTT packets of the monitor's own client, checked against the standard's bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.adapters import mqtt_wire as wire


def test_variable_byte_integers_match_the_standard() -> None:
    # MQTT 5.0 section 1.5.5: the boundaries of one to four bytes.
    assert wire.varint(0) == b"\x00"
    assert wire.varint(127) == b"\x7f"
    assert wire.varint(128) == b"\x80\x01"
    assert wire.varint(16_383) == b"\xff\x7f"
    assert wire.varint(16_384) == b"\x80\x80\x01"
    assert wire.varint(268_435_455) == b"\xff\xff\xff\x7f"


def test_connect_asks_for_a_persistent_session_with_credentials() -> None:
    packet = wire.connect("mon", v5=False, keepalive_s=30, username="u", password="p")
    assert packet == (b"\x10\x15" + b"\x00\x04MQTT" + b"\x04" + b"\xc0" + b"\x00\x1e"
                      + b"\x00\x03mon" + b"\x00\x01u" + b"\x00\x01p")
    v5 = wire.connect("mon", v5=True, keepalive_s=30, session_expiry_s=604_800,
                      receive_maximum=20_000)
    # version 5, clean start off, then properties: session expiry and receive maximum
    assert v5[2:12] == b"\x00\x04MQTT\x05\x00\x00\x1e"
    assert v5[12:21] == b"\x08\x11\x00\x09\x3a\x80\x21\x4e\x20"


def test_subscribe_and_puback_bytes() -> None:
    assert wire.subscribe(7, [("a/+", 1)], v5=False) == b"\x82\x08\x00\x07\x00\x03a/+\x01"
    assert wire.subscribe(7, [("a/+", 1)], v5=True) == b"\x82\x09\x00\x07\x00\x00\x03a/+\x01"
    assert wire.puback(0x1234) == b"\x40\x02\x12\x34"


@given(topic=st.text(min_size=1, max_size=40), payload=st.binary(max_size=300),
       qos=st.integers(0, 1), packet_id=st.integers(1, 65535), v5=st.booleans(),
       cuts=st.lists(st.integers(0, 400), max_size=6))
def test_a_publish_reads_back_the_same_however_the_stream_is_cut(
    topic: str, payload: bytes, qos: int, packet_id: int, v5: bool, cuts: list[int]
) -> None:
    one = wire.publish(topic, payload, qos=qos, packet_id=packet_id, v5=v5)
    stream = one + wire.PINGREQ_PACKET + one
    reader = wire.PacketReader()
    packets = []
    start = 0
    for cut in [*sorted(c for c in cuts if c < len(stream)), len(stream)]:
        packets += list(reader.feed(stream[start:cut]))
        start = max(start, cut)
    assert [p.kind for p in packets] == [wire.PUBLISH, wire.PINGREQ, wire.PUBLISH]
    for packet in (packets[0], packets[2]):
        assert wire.read_publish(packet, v5=v5) == (topic, payload, qos, packet_id if qos else 0)


def test_a_v5_publish_with_properties_skips_them() -> None:
    properties = b"\x01\x01" + b"\x03\x00\x10application/json"  # format indicator, content type
    body = b"\x00\x03a/b" + b"\x00\x05" + wire.varint(len(properties)) + properties + b"{}"
    [packet] = wire.PacketReader().feed(b"\x32" + wire.varint(len(body)) + body)
    assert wire.read_publish(packet, v5=True) == ("a/b", b"{}", 1, 5)


def test_a_malformed_length_or_an_oversized_packet_is_a_protocol_error() -> None:
    with pytest.raises(wire.ProtocolError, match="malformed remaining length"):
        list(wire.PacketReader().feed(b"\x30\xff\xff\xff\xff\x01"))
    with pytest.raises(wire.ProtocolError, match="over the limit"):
        list(wire.PacketReader().feed(b"\x30" + wire.varint(wire.MAX_PACKET_BYTES + 1)))
    [qos3] = wire.PacketReader().feed(b"\x36\x05\x00\x01a\x00\x01")
    with pytest.raises(wire.ProtocolError, match="QoS 3"):
        wire.read_publish(qos3, v5=False)


def test_connack_and_suback_are_read() -> None:
    [connack] = wire.PacketReader().feed(b"\x20\x02\x01\x00")
    assert wire.read_connack(connack) == (True, 0)
    [refused] = wire.PacketReader().feed(b"\x20\x03\x00\x87\x00")
    assert wire.read_connack(refused) == (False, 0x87)
    [suback] = wire.PacketReader().feed(b"\x90\x05\x00\x09\x00\x01\x87")
    assert wire.read_suback(suback, v5=True) == (9, [1, 0x87])
