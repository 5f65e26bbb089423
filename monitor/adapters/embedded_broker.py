"""The embedded MQTT broker (amqtt) of the zero-setup run.

For trying the product only: amqtt loses in-flight QoS 1 messages of a
persistent session on reconnect (its issue #401), so patients are monitored
through Mosquitto or another real broker.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator

from amqtt.broker import Broker

log = logging.getLogger(__name__)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def embedded_broker(port: int, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run an amqtt broker on ``host:port`` and yield its ``mqtt://`` URL.

    Port 0, or a port already taken (say by a system Mosquitto on 1883),
    means any free port; the URL says which.
    """
    if port == 0 or not _port_is_free(host, port):
        if port:
            log.warning("port %d is taken; the embedded broker uses another", port)
        port = free_port(host)
    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    await broker.start()
    log.warning("embedded MQTT broker on mqtt://%s:%d (for trying the product, not for patients)",
                host, port)
    try:
        yield f"mqtt://{host}:{port}"
    finally:
        await broker.shutdown()
