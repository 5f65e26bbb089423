"""Pages as short emails to an email-to-pager gateway."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Any

from monitor.app.ports import PageDeliveryError


class SmtpTarget:
    """Sends each page as one email (smtplib, on a worker thread)."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        to: list[str],
        starttls: bool = False,
        login: tuple[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self._host, self._port = host, port
        self._sender, self._to = sender, to
        self._starttls, self._login = starttls, login
        self._timeout_s = timeout_s

    def _send_now(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout_s) as smtp:
            if self._starttls:
                smtp.starttls()
            if self._login is not None:
                smtp.login(*self._login)
            smtp.send_message(message)

    async def send(self, page: dict[str, Any]) -> None:
        """Deliver one page.

        Raises:
            PageDeliveryError: The server could not be reached or refused it.
        """
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(self._to)
        message["Subject"] = page["text"][:120]
        message.set_content(f"{page['text']}\nalarm {page['alarm_id']} tier {page['tier']}\n")
        try:
            await asyncio.to_thread(self._send_now, message)
        except (OSError, smtplib.SMTPException) as error:
            raise PageDeliveryError(f"smtp://{self._host}:{self._port}: {error!r}") from None
