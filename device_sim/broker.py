"""The simulator's side of MQTT: where the broker is, and an aiomqtt client to it.

The simulator is a device in its own right: it speaks MQTT 3.1.1 through
aiomqtt and shares no code with the monitor.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

import aiomqtt

KEEPALIVE_S: Final = 30
CONNECT_TIMEOUT_S: Final = 10.0
PUBLISH_TIMEOUT_S: Final = 10.0
"""How long publishes sent together wait for their PUBACKs before the connection is given up.

Each ``publish`` is called with ``timeout=math.inf`` and the batch is timed as
a whole: aiomqtt's own per-call timeout costs a task and a timer per message.
"""

BrokerErrors: Final = (aiomqtt.MqttError, OSError, TimeoutError)
"""What a lost, refused or unreachable broker raises."""


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the broker is, parsed from ``mqtt[s]://[user:pass@]host[:port]``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> Broker:
        """Parse a broker URL (port 1883, or 8883 for ``mqtts``, unless given).

        Raises:
            ValueError: The URL is not ``mqtt://`` or ``mqtts://`` with a host.
        """
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or port == -1:
            raise ValueError(f"broker URL {url!r} is not mqtt[s]://[user:pass@]host[:port]")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            tls=tls,
        )

    def __str__(self) -> str:
        """The address without credentials, for logs."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def client(
        self,
        identifier: str,
        *,
        will: aiomqtt.Will | None = None,
        max_inflight: int | None = None,
        ca_file: str | None = None,
    ) -> aiomqtt.Client:
        """An MQTT 3.1.1 client with a clean session (connects in ``async with``)."""
        client = aiomqtt.Client(
            self.host, self.port, username=self.username, password=self.password,
            identifier=identifier, protocol=aiomqtt.ProtocolVersion.V311, clean_session=True,
            will=will, keepalive=KEEPALIVE_S, timeout=CONNECT_TIMEOUT_S,
            tls_context=ssl.create_default_context(cafile=ca_file) if self.tls else None,
            max_inflight_messages=max_inflight,
            # paho writes each packet on its own: without this, Nagle holds them back.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        # A group awaits the PUBACKs of many publishes at once: that is no cause for a warning.
        client.pending_calls_threshold = 1_000_000
        return client


def cut(client: aiomqtt.Client) -> None:
    """Drop the connection without DISCONNECT, as a pulled cable would.

    The broker sees the connection end and publishes the client's last will.
    """
    sock = client._client.socket()  # noqa: SLF001 (aiomqtt has no public way to pull the cable)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
