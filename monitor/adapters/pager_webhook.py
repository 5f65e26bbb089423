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
from typing import Any

import httpx

from monitor.app.ports import PageDeliveryError


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
