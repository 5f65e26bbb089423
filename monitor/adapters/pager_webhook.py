"""Pages as signed JSON webhooks.

The receiver checks ``X-Monitor-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<X-Monitor-Timestamp>.<body>`` under the shared secret; the timestamp in
the signed text lets it refuse replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Literal

import httpx
from pydantic import Field

from monitor.app.pager import TargetConfig, TargetContext
from monitor.app.ports import PageDeliveryError, PagerTarget


class WebhookConfig(TargetConfig):
    """A JSON webhook signed with HMAC-SHA256."""

    kind: Literal["webhook"]
    url: str = Field(description="http(s) URL the page is POSTed to")
    secret_env: str = Field(description="environment variable holding the HMAC secret")
    timeout_s: float = Field(default=5, gt=0, description="per attempt")


async def build(name: str, config: WebhookConfig, context: TargetContext) -> PagerTarget:
    """The target ``config`` describes, with an HTTP client closed when the service stops."""
    secret = context.secret(config.secret_env).encode()
    client = await context.stack.enter_async_context(httpx.AsyncClient(timeout=config.timeout_s))
    return WebhookTarget(name, config.url, secret, client)


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Monitor-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookTarget:
    """POSTs each page to one URL."""

    def __init__(self, name: str, url: str, secret: bytes, client: httpx.AsyncClient) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._client = client

    async def send(self, page: dict[str, Any]) -> None:
        """Deliver one page.

        Raises:
            PageDeliveryError: No 2xx answer.
        """
        body = json.dumps(page).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Monitor-Timestamp": timestamp,
            "X-Monitor-Signature": signature(self._secret, timestamp, body),
        }
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise PageDeliveryError(f"{self._url}: {error!r}") from None
        if not response.is_success:
            raise PageDeliveryError(f"{self._url} answered {response.status_code}")
