"""MQTT ingest: a persistent QoS 1 subscription whose messages are acknowledged late.

paho acknowledges a QoS 1 message as soon as it is handed over, before we
store it. This adapter switches paho to manual acknowledgement *before*
connecting (otherwise the backlog the broker replays on connect is acknowledged
at once) and acknowledges each message only when :meth:`MqttIngest.ack` is
called, after the message's batch is committed. A monitor killed in between
gets the message again from the broker.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt import client as paho_client
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

BACKOFF_START_S: Final = 0.2
BACKOFF_MAX_S: Final = 15.0
CONNECT_TIMEOUT_S: Final = 10.0
PUBLISH_TIMEOUT_S: Final = 5.0


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


class MqttIngest:
    """Subscribes to vitals and status topics and feeds ``inbox``; reconnects on loss."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id: str,
        protocol: str,
        sites: list[str],
        session_expiry_s: int,
        inbox: asyncio.Queue[Inbound],
        ca_file: str | None = None,
    ) -> None:
        self._address = address
        self._ca_file = ca_file
        self._client_id = client_id
        self._protocol = (
            aiomqtt.ProtocolVersion.V5 if protocol == "5" else aiomqtt.ProtocolVersion.V311
        )
        self._topics = [
            f"infusion/{site}/+/{kind}" for site in sites for kind in ("vitals", "status")
        ]
        self._session_expiry_s = session_expiry_s
        self._inbox = inbox
        self._client: aiomqtt.Client | None = None
        self._connection = 0
        self._stop = asyncio.Event()
        self._release = asyncio.Event()
        self.connected = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.reconnects = 0

    def _new_client(self) -> aiomqtt.Client:
        v5 = self._protocol is aiomqtt.ProtocolVersion.V5
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._session_expiry_s
            properties.ReceiveMaximum = min(self._inbox.maxsize or 65535, 65535)
        client = aiomqtt.Client(
            self._address.host,
            self._address.port,
            username=self._address.username,
            password=self._address.password,
            identifier=self._client_id,
            protocol=self._protocol,
            clean_session=None if v5 else False,
            clean_start=False if v5 else paho_client.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
            tls_context=(ssl.create_default_context(cafile=self._ca_file)
                         if self._address.tls else None),
            timeout=CONNECT_TIMEOUT_S,
        )
        # aiomqtt has no public switch for this; it must be set before connecting.
        client._client.manual_ack_set(True)  # noqa: SLF001
        return client

    async def run(self) -> None:
        """Stay connected until :meth:`stop`, reconnecting with jittered backoff."""
        backoff = BACKOFF_START_S
        while not self._stop.is_set():
            try:
                await self._connected_session()
                backoff = BACKOFF_START_S
            except aiomqtt.MqttError as error:
                self.connected.clear()
                self._client = None
                log.warning("broker %s: %s; reconnecting in %.1f s", self._address, error, backoff)
                try:
                    async with asyncio.timeout(backoff * random.uniform(0.5, 1.0)):  # noqa: S311
                        await self._stop.wait()
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                self.reconnects += 1

    async def _connected_session(self) -> None:
        client = self._new_client()
        async with client:
            self._connection += 1
            self._client = client
            await client.subscribe([(topic, 1) for topic in self._topics])
            self.connected.set()
            log.info("subscribed to %s on %s", ", ".join(self._topics), self._address)
            self.idle.clear()
            receiver = asyncio.create_task(self._receive(client), name="mqtt-receive")
            stopping = asyncio.create_task(self._stop.wait(), name="mqtt-stop")
            try:
                await asyncio.wait({receiver, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                receiver.cancel()
                await asyncio.gather(receiver, stopping, return_exceptions=True)
                self.idle.set()
            if not self._stop.is_set():
                receiver.result()
                return
            # Stay connected until what was taken in is stored and acknowledged.
            await self._release.wait()
            self.connected.clear()
            self._client = None

    async def _receive(self, client: aiomqtt.Client) -> None:
        connection = self._connection
        async for message in client.messages:
            payload = message.payload
            await self._inbox.put(Inbound(
                topic=message.topic.value,
                payload=payload if isinstance(payload, bytes) else str(payload).encode(),
                received_ms=time.time_ns() // 1_000_000,
                ack=AckToken(connection, message.mid, message.qos),
            ))

    def ack(self, token: AckToken) -> None:
        """Acknowledge a stored message, if its connection is still the current one.

        A message from an earlier connection is redelivered by the broker and
        dropped as a duplicate then.
        """
        if token.qos > 0 and self._client is not None and token.connection == self._connection:
            self._client._client.ack(token.mid, token.qos)  # noqa: SLF001 - see manual_ack_set

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 on the monitor's connection (for the alerts topic).

        Raises:
            ConnectionError: Not connected to the broker now.
        """
        client = self._client
        if client is None:
            raise ConnectionError(f"not connected to {self._address}")
        await client.publish(topic, payload, qos=1, timeout=PUBLISH_TIMEOUT_S)

    def stop(self) -> None:
        """Stop taking messages; the connection stays up until :meth:`release`."""
        self._stop.set()

    def release(self) -> None:
        """Everything taken in is acknowledged: disconnect."""
        self._release.set()
