"""MQTT ingest: a persistent QoS 1 subscription whose messages are acknowledged late.

The monitor speaks MQTT itself (packets in :mod:`monitor.adapters.mqtt_wire`)
on an asyncio protocol: each chunk the socket gives is split into packets in
one pass and the readings go straight to the inbox, with no thread, no call
per byte and no task per message. A message is acknowledged only when
:meth:`MqttIngest.ack` is called, after the message's batch is committed, so
a monitor killed in between gets the message again from the broker (the
session is persistent: clean start off). Acknowledgements of a batch go out
in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from monitor.adapters import mqtt_wire as wire

log = logging.getLogger(__name__)

BACKOFF_START_S: Final = 0.2
BACKOFF_MAX_S: Final = 15.0
CONNECT_TIMEOUT_S: Final = 10.0
PUBLISH_TIMEOUT_S: Final = 5.0
KEEPALIVE_S: Final = 30


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is, parsed from ``mqtt[s]://[user:pass@]host:port``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse a broker URL.

        Raises:
            ValueError: The URL is not ``mqtt://`` or ``mqtts://`` with a host.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker URL {url!r} is not mqtt[s]://[user:pass@]host[:port]")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message taken from the broker, not yet acknowledged."""

    topic: str
    payload: bytes
    received_ms: int
    ack: AckToken


@dataclass(frozen=True, slots=True)
class AckToken:
    """What acknowledging a message needs: its id on the connection it came on."""

    connection: int
    mid: int
    qos: int


class BrokerError(ConnectionError):
    """The broker refused us, broke the protocol, or the connection was lost."""


OnPublish = Callable[[wire.Packet, int], None]


class Connection(asyncio.Protocol):
    """One connection to the broker: reads packets; a PUBLISH goes to ``on_publish``.

    ``on_publish`` gets the packet and the Unix ms it arrived at.
    """

    def __init__(self, address: BrokerAddress, on_publish: OnPublish | None = None) -> None:
        self.address = address
        self._on_publish = on_publish
        self.transport: asyncio.Transport | None = None
        self._reader = wire.PacketReader()
        self._replies: dict[int, asyncio.Future[wire.Packet]] = {}
        loop = asyncio.get_running_loop()
        self.connack: asyncio.Future[wire.Packet] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        self.taking = True
        self.number = 0
        self.last_heard = time.monotonic()
        self._next_id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio: the TCP (or TLS) connection is up."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        """asyncio: the connection is gone; whatever waits for a reply fails."""
        reason = f"connection lost ({exc!r})" if exc else "connection closed by the broker"
        self.close(reason)

    def close(self, reason: str) -> None:
        """Close the connection, failing whatever waits for a reply."""
        if not self.closed.done():
            self.closed.set_result(reason)
        for future in [self.connack, *self._replies.values()]:
            if not future.done():
                future.set_exception(BrokerError(reason))
        self._replies.clear()
        if self.transport is not None:
            self.transport.close()

    def write(self, data: bytes) -> None:
        """Send bytes, if the connection is still open."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def packet_id(self) -> int:
        """A packet id (1..65535) not waiting for a reply.

        Raises:
            BrokerError: All 65,535 are waiting.
        """
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._replies:
                return self._next_id
        raise BrokerError("every packet id is waiting for the broker's reply")

    def expect(self, packet_id: int) -> asyncio.Future[wire.Packet]:
        """A future for the reply (PUBACK, SUBACK) that will carry ``packet_id``."""
        future: asyncio.Future[wire.Packet] = asyncio.get_running_loop().create_future()
        self._replies[packet_id] = future
        future.add_done_callback(lambda _: self._replies.pop(packet_id, None))
        return future

    def send(self, packet_id: int, data: bytes) -> asyncio.Future[wire.Packet]:
        """Send a packet; the future gets the reply that carries its packet id."""
        future = self.expect(packet_id)
        self.write(data)
        return future

    def data_received(self, data: bytes) -> None:
        """asyncio: bytes from the broker; each whole packet is acted on at once."""
        self.last_heard = time.monotonic()
        received_ms = time.time_ns() // 1_000_000
        try:
            for packet in self._reader.feed(data):
                if not self._handle(packet, received_ms):
                    return
        except (wire.ProtocolError, IndexError) as error:
            log.error("broker %s: %s; reconnecting", self.address, error)
            self.close(f"protocol error: {error}")

    def _handle(self, packet: wire.Packet, received_ms: int) -> bool:
        """Act on one packet; False once the broker has disconnected us."""
        kind = packet.kind
        if kind == wire.PUBLISH:
            if self.taking and self._on_publish is not None:
                self._on_publish(packet, received_ms)
        elif kind in (wire.PUBACK, wire.SUBACK):
            future = self._replies.get(wire.read_packet_id(packet))
            if future is not None and not future.done():
                future.set_result(packet)
        elif kind == wire.CONNACK and not self.connack.done():
            self.connack.set_result(packet)
        elif kind == wire.DISCONNECT:
            code = packet.body[0] if packet.body else 0
            self.close(f"the broker disconnected us: "
                        f"{wire.CONNACK_REASONS.get(code, f'reason 0x{code:02x}')}")
            return False
        elif kind != wire.PINGRESP:
            raise wire.ProtocolError(f"unexpected packet type {kind}")
        return True


async def open_connection(
    address: BrokerAddress, connect: bytes, on_publish: OnPublish | None = None,
    *, ca_file: str | None = None,
) -> tuple[Connection, bool]:
    """Connect and send ``connect`` (a CONNECT packet).

    Returns the connection, and whether the broker still had the session.

    Raises:
        BrokerError: The broker refused the connection.
        OSError: The broker cannot be reached.
        TimeoutError: No CONNACK within ``CONNECT_TIMEOUT_S``.
    """
    tls = ssl.create_default_context(cafile=ca_file) if address.tls else None
    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        _, connection = await asyncio.get_running_loop().create_connection(
            lambda: Connection(address, on_publish), address.host, address.port, ssl=tls,
            server_hostname=address.host if tls else None)
        try:
            connection.write(connect)
            present, code = wire.read_connack(await connection.connack)
        except BaseException:
            connection.close("not connected")
            raise
    if code:
        connection.close("refused")
        reason = wire.CONNACK_REASONS.get(code, f"reason 0x{code:02x}")
        raise BrokerError(f"the broker refused the connection: {reason}")
    return connection, present


async def keep_alive(connection: Connection) -> None:
    """PINGREQ every half keep-alive; a broker silent for 1.5 keep-alives is gone."""
    while not connection.closed.done():
        await asyncio.sleep(KEEPALIVE_S / 2)
        if time.monotonic() - connection.last_heard > KEEPALIVE_S * 1.5:
            connection.close(f"no word from the broker for {KEEPALIVE_S * 1.5:.0f} s")
            return
        connection.write(wire.PINGREQ_PACKET)


@contextlib.asynccontextmanager
async def publishing(
    address: BrokerAddress, client_id: str, *, will: wire.Will | None = None
) -> AsyncIterator[Connection]:
    """A clean MQTT 3.1.1 session for publishing, kept alive, with DISCONNECT at the end.

    Raises:
        BrokerError: The broker refused the connection.
        OSError: The broker cannot be reached.
    """
    connection, _ = await open_connection(address, wire.connect(
        client_id, v5=False, keepalive_s=KEEPALIVE_S, username=address.username,
        password=address.password, clean=True, will=will))
    pinging = asyncio.create_task(keep_alive(connection), name="mqtt-keepalive")
    try:
        yield connection
        connection.write(wire.DISCONNECT_PACKET)
    finally:
        pinging.cancel()
        connection.close("done")


class Inbox(asyncio.Queue[Inbound]):
    """The queue between the receiver and processing, held under ``limit`` messages.

    The receiver pauses its socket when the inbox reaches the limit and sets
    ``on_room``, which is called once the inbox is down to half of it.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.on_room: Callable[[], None] | None = None

    def _get(self) -> Inbound:
        item = super()._get()
        if self.on_room is not None and self.qsize() <= self.limit // 2:
            on_room, self.on_room = self.on_room, None
            on_room()
        return item


class MqttIngest:
    """Subscribes to vitals and status topics and feeds ``inbox``; reconnects on loss.

    The inbox is held near its limit by pausing the socket (the broker keeps
    the rest queued), give or take what one read of the socket held. With
    MQTT 5 the broker is also asked not to have more than the limit
    unacknowledged (Receive Maximum), but Mosquitto 2.0.11 was seen to send
    more than that once the first acknowledgements came back.
    """

    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id: str,
        protocol: str,
        sites: list[str],
        session_expiry_s: int,
        inbox: Inbox,
        ca_file: str | None = None,
    ) -> None:
        self.address = address
        self._ca_file = ca_file
        self._client_id = client_id
        self._v5 = protocol == "5"
        self._topics = [
            f"infusion/{site}/+/{kind}" for site in sites for kind in ("vitals", "status")
        ]
        self._session_expiry_s = session_expiry_s
        self._inbox = inbox
        self._current: Connection | None = None
        self._connections = 0
        self._stop = asyncio.Event()
        self._release = asyncio.Event()
        self.connected = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.reconnects = 0
        self.pauses = 0

    async def run(self) -> None:
        """Stay connected until :meth:`stop`, reconnecting with jittered backoff."""
        backoff = BACKOFF_START_S
        while not self._stop.is_set():
            try:
                await self._connected_session()
                backoff = BACKOFF_START_S
            except (OSError, TimeoutError) as error:
                self.connected.clear()
                log.warning("broker %s: %s; reconnecting in %.1f s", self.address,
                            error or type(error).__name__, backoff)
                try:
                    async with asyncio.timeout(backoff * random.uniform(0.5, 1.0)):  # noqa: S311
                        await self._stop.wait()
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                self.reconnects += 1

    async def _open(self) -> Connection:
        """Connect and SUBSCRIBE; the connection then takes messages."""
        self._connections += 1
        number = self._connections

        def take(packet: wire.Packet, received_ms: int) -> None:
            self.take(packet, received_ms, number)
        address = self.address
        connection, present = await open_connection(address, wire.connect(
            self._client_id, v5=self._v5, keepalive_s=KEEPALIVE_S,
            username=address.username, password=address.password,
            session_expiry_s=self._session_expiry_s,
            receive_maximum=min(self._inbox.limit, 65535)), take, ca_file=self._ca_file)
        connection.number = number
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await self._subscribe(connection)
        except BaseException:
            connection.close("not subscribed")
            raise
        self._current = connection
        log.info("subscribed to %s on %s (session %s)", ", ".join(self._topics), self.address,
                 "resumed" if present else "new")
        return connection

    async def _subscribe(self, connection: Connection) -> None:
        """SUBSCRIBE to every topic.

        Raises:
            BrokerError: The broker refused a subscription.
        """
        packet_id = connection.packet_id()
        reply = await connection.send(packet_id, wire.subscribe(
            packet_id, [(topic, 1) for topic in self._topics], v5=self._v5))
        codes = wire.read_suback(reply, v5=self._v5)[1]
        refused = [topic for topic, code in zip(self._topics, codes, strict=False) if code >= 0x80]
        if refused:
            raise BrokerError(f"the broker refused the subscription to {', '.join(refused)}")

    async def _connected_session(self) -> None:
        connection = await self._open()
        self.connected.set()
        self.idle.clear()
        pinging = asyncio.create_task(keep_alive(connection), name="mqtt-keepalive")
        stopping = asyncio.create_task(self._stop.wait(), name="mqtt-stop")
        waiting: set[asyncio.Future[Any]] = {connection.closed, stopping}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            connection.taking = False
            self.idle.set()
            if not self._stop.is_set():
                raise BrokerError(connection.closed.result())
            # Stay connected until what was taken in is stored and acknowledged.
            await self._release.wait()
            connection.write(wire.DISCONNECT_PACKET)
        finally:
            pinging.cancel()
            stopping.cancel()
            connection.close("disconnected")
            self._current = None
            self.connected.clear()
            self.idle.set()

    def take(self, packet: wire.Packet, received_ms: int, connection: int) -> None:
        """A PUBLISH arrived: queue it for processing (the socket pauses if the inbox is full)."""
        topic, payload, qos, packet_id = wire.read_publish(packet, v5=self._v5)
        if qos == 2:
            raise wire.ProtocolError("QoS 2 PUBLISH on a QoS 1 subscription")
        inbox = self._inbox
        inbox.put_nowait(Inbound(topic, payload, received_ms, AckToken(connection, packet_id, qos)))
        current = self._current
        if inbox.on_room is None and inbox.qsize() >= inbox.limit and current is not None:
            transport = current.transport
            if transport is not None and not transport.is_closing():
                transport.pause_reading()
                self.pauses += 1

                def resume() -> None:
                    if not transport.is_closing():
                        transport.resume_reading()
                inbox.on_room = resume

    def ack(self, tokens: Iterable[AckToken]) -> None:
        """Acknowledge stored messages that came on the current connection, in one write.

        A message from an earlier connection is redelivered by the broker and
        dropped as a duplicate then.
        """
        current = self._current
        if current is None:
            return
        number = current.number
        data = b"".join(wire.puback(token.mid) for token in tokens
                        if token.qos and token.connection == number)
        if data:
            current.write(data)

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 on the monitor's connection (for the alerts topic).

        Raises:
            ConnectionError: Not connected to the broker now, or the connection was lost.
            TimeoutError: The broker did not acknowledge in ``PUBLISH_TIMEOUT_S``.
        """
        current = self._current
        if current is None or not self.connected.is_set():
            raise ConnectionError(f"not connected to {self.address}")
        packet_id = current.packet_id()
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await current.send(packet_id, wire.publish(
                topic, payload, qos=1, packet_id=packet_id, v5=self._v5))

    def stop(self) -> None:
        """Stop taking messages; the connection stays up until :meth:`release`."""
        self._stop.set()
        if self._current is not None:
            self._current.taking = False

    def release(self) -> None:
        """Everything taken in is acknowledged: disconnect."""
        self._release.set()
