"""Pages on the MQTT alerts topic ``infusion/<site>/alerts/<bed>`` (QoS 1)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from monitor.app.pager import TargetConfig, TargetContext
from monitor.app.ports import PageDeliveryError, PagerTarget

Publish = Callable[[str, bytes], Awaitable[None]]


class MqttAlertConfig(TargetConfig):
    """The ``infusion/<site>/alerts/<bed>`` topic, for existing pager gateways."""

    kind: Literal["mqtt"]


async def build(name: str, config: MqttAlertConfig, context: TargetContext) -> PagerTarget:
    """The target ``config`` describes."""
    return MqttAlertTarget(name, context.publish)


class MqttAlertTarget:
    """Publishes each page through the monitor's own broker connection."""

    def __init__(self, name: str, publish: Publish) -> None:
        self.name = name
        self._publish = publish

    async def send(self, page: dict[str, Any]) -> None:
        """Deliver one page.

        Raises:
            PageDeliveryError: The broker is not reachable.
        """
        topic = f"infusion/{page['site']}/alerts/{page['bed']}"
        try:
            await self._publish(topic, json.dumps(page).encode())
        except (ConnectionError, TimeoutError) as error:
            raise PageDeliveryError(f"mqtt {topic}: {error!r}") from None
