"""MQTT ingest on paho-mqtt 2.x: a persistent QoS 1 subscription acknowledged after the commit.

paho's ``Client(manual_ack=True)`` keeps every PUBLISH unacknowledged until
:meth:`MqttIngest.ack` is called, after the batch holding it is committed, so
a monitor killed in between gets the message again from the broker (the
session is persistent: clean start off). paho runs on the service's event
loop, as aiomqtt drives it: its socket is watched with ``add_reader`` and
``add_writer``, and ``loop_misc`` runs once a second for keep-alive. A new
paho client is made for every connection, so an acknowledgement can never go
out on a connection other than the one its message came on.

What the broker says is heard: session-present 0 for a session the monitor
had (``broker_session_lost``), a DISCONNECT "session taken over"
(``mqtt_taken_over``), refused subscriptions, and PUBACK reason codes of the
monitor's own publishes. MQTT 5 is the default, with Receive Maximum as the
backpressure window and a Maximum Packet Size the broker must respect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from pydantic import BaseModel, ConfigDict

from monitor.adapters.mqtt_link import BufferedClient, Link, on_loop
from monitor.app.ports import AckToken, Inbound

log = logging.getLogger(__name__)

BACKOFF_START_S: Final = 0.2
BACKOFF_MAX_S: Final = 15.0
GOOD_SESSION_S: Final = 10.0
"""A connection that lasted this long resets the reconnect backoff."""
CONNECT_TIMEOUT_S: Final = 10.0
PUBLISH_TIMEOUT_S: Final = 5.0
KEEPALIVE_S: Final = 30
MAX_PACKET_BYTES: Final = 16 * 1024 * 1024
"""Announced to the broker (MQTT 5): larger messages are dropped there. Smaller ones
that are still no reading (over 64 KiB) are taken, dead-lettered and acknowledged."""
SESSION_TAKEN_OVER: Final = 0x8E


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


class BrokerError(ConnectionError):
    """The broker refused us, broke the protocol, or the connection was lost."""


class Inbox(asyncio.Queue[Inbound]):
    """The queue between the receiver and processing, held under ``limit`` messages.

    The receiver stops reading its socket when the inbox reaches the limit
    and sets ``on_room``, which is called once the inbox is down to half of it.
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


Report = Callable[[str, str], None]
"""Told of a broker event that is a system alarm: (code, what happened)."""

class MqttIngest:
    """Subscribes to vitals and status topics and feeds ``inbox``; reconnects on loss.

    The inbox is held near its limit: with MQTT 5 the broker may have at
    most the limit unacknowledged (Receive Maximum), and the socket is not
    read while the inbox is full (the broker keeps the rest queued).
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
        status_topic: str | None = None,
    ) -> None:
        self.address = address
        self._ca_file = ca_file
        self._status_topic = status_topic
        self._client_id = client_id
        self._v5 = protocol == "5"
        self._topics = [
            f"infusion/{site}/+/{kind}" for site in sites for kind in ("vitals", "status")
        ]
        self._session_expiry_s = session_expiry_s
        self._inbox = inbox
        self._link: Link | None = None
        self._connections = 0
        self._had_session = False
        self._stop = asyncio.Event()
        self._release = asyncio.Event()
        self.connected = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.reconnects = 0
        self.pauses = 0
        self.report: Report | None = None
        """Told of a lost session or a takeover (the service raises a system alarm)."""

    async def run(self) -> None:
        """Stay connected until :meth:`stop`, reconnecting with jittered backoff.

        The backoff starts afresh after a connection that lasted a while.
        """
        backoff = BACKOFF_START_S
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                await self._connected_session()
                backoff = BACKOFF_START_S
            except (OSError, TimeoutError) as error:
                self.connected.clear()
                if time.monotonic() - began >= GOOD_SESSION_S:
                    backoff = BACKOFF_START_S
                log.warning("broker %s: %s; reconnecting in %.1f s", self.address,
                            error or type(error).__name__, backoff)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff * random.uniform(0.5, 1.0)):  # noqa: S311
                        await self._stop.wait()
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                self.reconnects += 1

    def _client(self) -> BufferedClient:
        client = BufferedClient(
            CallbackAPIVersion.VERSION2, client_id=self._client_id,
            protocol=paho.MQTTv5 if self._v5 else paho.MQTTv311,
            clean_session=None if self._v5 else False,
            manual_ack=True, reconnect_on_failure=False)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(1000)
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set(ca_certs=self._ca_file)
        if self._status_topic:
            client.will_set(self._status_topic, b"offline", qos=1, retain=True)
        return client

    async def _open(self) -> Link:
        """Connect and SUBSCRIBE; the link then takes messages."""
        self._connections += 1
        loop = asyncio.get_running_loop()
        link = Link(self._client(), self._connections, loop)
        self._hook(link)
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._session_expiry_s
            properties.ReceiveMaximum = max(1, min(self._inbox.limit, 65535))
            properties.MaximumPacketSize = MAX_PACKET_BYTES
        connect = partial(link.client.connect, self.address.host, self.address.port,
                          keepalive=KEEPALIVE_S, properties=properties,
                          clean_start=False if self._v5 else paho.MQTT_CLEAN_START_FIRST_ONLY)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await loop.run_in_executor(None, connect)
                present = await self._connack(link)
                await self._subscribe(link)
        except BaseException:
            self._close(link)
            raise
        if self._had_session and not present and self.report is not None:
            self.report("broker_session_lost",
                        f"{self.address} had no session for {self._client_id}: messages it "
                        "held for the monitor while it was away are lost")
        self._had_session = True
        self._link = link
        log.info("subscribed to %s on %s (session %s)", ", ".join(self._topics), self.address,
                 "resumed" if present else "new")
        return link

    @staticmethod
    async def _connack(link: Link) -> bool:
        """Whether the broker resumed the session.

        Raises:
            BrokerError: The broker refused the connection.
        """
        present, reason = await link.connack
        if reason.is_failure:
            raise BrokerError(f"the broker refused the connection: {reason}")
        return present

    def _hook(self, link: Link) -> None:
        """Set paho's callbacks for this link; all but the socket's opening run on the loop."""
        client, loop = link.client, link.loop

        def on_connect(_c: Any, _u: Any, flags: Any, reason: ReasonCode, _p: Any) -> None:  # noqa: ANN401
            if not link.connack.done():
                link.connack.set_result((bool(flags.session_present), reason))

        def on_disconnect(_c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:  # noqa: ANN401
            code = getattr(reason, "value", None)
            if code == SESSION_TAKEN_OVER and self.report is not None:
                self.report("mqtt_taken_over",
                            f"another client connected to {self.address} as "
                            f"{self._client_id!r}: the broker closed the monitor's session")
            link.forget_socket()
            link.lost(f"disconnected ({reason})")

        def on_subscribe(_c: Any, _u: Any, mid: int, codes: list[ReasonCode], _p: Any) -> None:  # noqa: ANN401
            reply = link.replies.pop(mid, None)
            if reply is not None and not reply.done():
                reply.set_result(list(codes))

        def on_publish(_c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:  # noqa: ANN401
            reply = link.replies.pop(mid, None)
            if reply is not None and not reply.done():
                reply.set_result([reason])

        def on_message(_c: Any, _u: Any, message: paho.MQTTMessage) -> None:  # noqa: ANN401
            self._take(link, message._topic, bytes(message.payload), message.mid, message.qos)  # noqa: SLF001 - raw bytes: a bad topic is a dead letter, not a crash

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_subscribe = on_subscribe
        client.on_publish = on_publish
        client.on_message = on_message
        client.take = partial(self._take, link)
        # connect() runs in an executor thread: the socket is watched from the loop
        def on_socket_open(_c: Any, _u: Any, sock: Any) -> None:  # noqa: ANN401 - paho's types
            loop.call_soon_threadsafe(link.watch, sock)

        client.on_socket_open = on_socket_open
        client.on_socket_close = lambda _c, _u, _s: on_loop(loop, link.forget_socket)
        client.on_socket_register_write = lambda _c, _u, _s: on_loop(loop, link.want_write)
        client.on_socket_unregister_write = lambda _c, _u, _s: on_loop(loop, link.done_writing)

    async def _subscribe(self, link: Link) -> None:
        """SUBSCRIBE to every topic at QoS 1.

        Raises:
            BrokerError: The broker refused a subscription.
        """
        options = [(topic, SubscribeOptions(qos=1) if self._v5 else 1) for topic in self._topics]
        result, mid = link.client.subscribe(options)  # type: ignore[arg-type]
        if mid is None:
            raise BrokerError(f"subscribing failed: {paho.error_string(result)}")
        reply = link.replies[mid] = link.loop.create_future()
        codes = await reply
        refused = [t for t, c in zip(self._topics, codes, strict=False) if c.is_failure]
        if refused:
            raise BrokerError(f"the broker refused the subscription to {', '.join(refused)}")

    async def _connected_session(self) -> None:
        link = await self._open()
        self.connected.set()
        self.idle.clear()
        misc = asyncio.create_task(self._keep_alive(link), name="mqtt-keepalive")
        stopping = asyncio.create_task(self._stop.wait(), name="mqtt-stop")
        try:
            await self._online()
            waiting: set[asyncio.Future[Any]] = {link.closed, stopping}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            self.idle.set()
            if not self._stop.is_set():
                raise BrokerError(link.closed.result())
            link.pause()
            # Stay connected until what was taken in is stored and acknowledged.
            await self._release.wait()
            if self._status_topic:  # a clean DISCONNECT discards the last will: say it first
                # (its PUBACK is not waited for: the socket is no longer read)
                link.client.publish(self._status_topic, b"offline", qos=1, retain=True)
            link.client.disconnect()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await link.closed
        finally:
            misc.cancel()
            stopping.cancel()
            self._close(link)
            self._link = None
            self.connected.clear()
            self.idle.set()

    async def _online(self) -> None:
        """Keep ``online`` (retained) on the status topic, if any; a refusal is only logged."""
        if not self._status_topic:
            return
        try:
            await self.publish(self._status_topic, b"online", retain=True)
        except (OSError, TimeoutError) as error:
            log.warning("status 'online' not published on %s: %s", self._status_topic,
                        error or type(error).__name__)

    async def _keep_alive(self, link: Link) -> None:
        """Run paho's keep-alive (PINGREQ, a broker gone silent) once a second.

        Not while the socket rests for backpressure, when paho would take the
        unread PINGRESP for a dead broker.
        """
        while not link.closed.done():
            await asyncio.sleep(1)
            if not link.paused:
                link.client.loop_misc()

    def _close(self, link: Link) -> None:
        """Close the link's socket, whatever paho thinks of it (the client is not reused)."""
        sock = link.client.socket()
        link.forget_socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        link.lost("closed")
        for reply in link.replies.values():
            if not reply.done():
                reply.set_exception(BrokerError("the connection was lost"))
        link.replies.clear()

    def _take(self, link: Link, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        """A PUBLISH arrived: queue it for processing (reading pauses if the inbox is full)."""
        inbox = self._inbox
        inbox.put_nowait(Inbound(topic.decode("utf-8", errors="replace"), payload,
                                 time.time_ns() // 1_000_000, AckToken(link.number, mid, qos)))
        if inbox.on_room is None and inbox.qsize() >= inbox.limit:
            link.pause()
            self.pauses += 1
            inbox.on_room = link.resume

    def ack(self, tokens: Iterable[AckToken]) -> None:
        """Acknowledge stored messages that came on the current connection.

        A message from an earlier connection is redelivered by the broker and
        dropped as a duplicate then.
        """
        link = self._link
        if link is None:
            return
        number, client = link.number, link.client
        pubacks = []
        link.batching = True
        try:
            for token in tokens:
                if token.qos == 1 and token.connection == number:
                    pubacks.append(token.mid)
                elif token.qos and token.connection == number:
                    client.ack(token.mid, token.qos)
            client.puback(pubacks)
        finally:
            link.batching = False
        if link.client.want_write():
            link.client.loop_write()  # what the socket does not take now waits for add_writer

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 on the monitor's connection (the alerts and status topics).

        Raises:
            ConnectionError: Not connected now, the connection was lost, or the
                broker refused the message (its PUBACK reason code says why).
            TimeoutError: The broker did not acknowledge in ``PUBLISH_TIMEOUT_S``.
        """
        link = self._link
        if link is None or not self.connected.is_set():
            raise ConnectionError(f"not connected to {self.address}")
        info = link.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"publishing to {topic} failed: {paho.error_string(info.rc)}")
        reply = link.replies[info.mid] = link.loop.create_future()
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            [reason] = await reply
        if reason.is_failure:
            raise ConnectionError(f"the broker refused the message to {topic}: {reason}")

    def stop(self) -> None:
        """Stop taking messages; the connection stays up until :meth:`release`."""
        self._stop.set()
        if self._link is not None:
            self._link.pause()

    def release(self) -> None:
        """Everything taken in is acknowledged: disconnect."""
        self._release.set()


class MqttConfig(BaseModel):
    """How the monitor reaches its broker, and what it subscribes to there."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    url: str
    client_id: str
    protocol: Literal["5", "3.1.1"]
    sites: list[str]
    session_expiry_s: int
    ca_file: Path | None = None
    status_topic: str | None = None
    """Where ``online`` is kept (retained) while connected, with ``offline`` as the last will."""


def build(config: MqttConfig, inbox: Inbox) -> MqttIngest:
    """The ingest ``config`` describes, feeding ``inbox``.

    Raises:
        ValueError: The URL is not ``mqtt://`` or ``mqtts://`` with a host.
    """
    return MqttIngest(
        BrokerAddress.parse(config.url), client_id=config.client_id, protocol=config.protocol,
        sites=config.sites, session_expiry_s=config.session_expiry_s, inbox=inbox,
        ca_file=str(config.ca_file) if config.ca_file else None,
        status_topic=config.status_topic)
