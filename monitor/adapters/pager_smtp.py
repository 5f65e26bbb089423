"""Pages as short emails to an email-to-pager gateway."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import Field

from monitor.app.pager import TargetConfig, TargetContext
from monitor.app.ports import PageDeliveryError, PagerTarget


class SmtpConfig(TargetConfig):
    """An email-to-pager gateway."""

    kind: Literal["smtp"]
    host: str = Field(description="SMTP server")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP port")
    starttls: bool = Field(default=False, description="upgrade with STARTTLS")
    username_env: str | None = Field(default=None, description="variable with the login")
    password_env: str | None = Field(default=None, description="variable with the password")
    sender: str = Field(description="From address")
    to: list[str] = Field(min_length=1, description="pager gateway addresses")
    timeout_s: float = Field(default=10, gt=0, description="per attempt")


async def build(name: str, config: SmtpConfig, context: TargetContext) -> PagerTarget:
    """The target ``config`` describes (the login from the environment, if named)."""
    login = None
    if config.username_env and config.password_env:
        login = (context.secret(config.username_env), context.secret(config.password_env))
    return SmtpTarget(name, host=config.host, port=config.port, sender=config.sender,
                      to=config.to, starttls=config.starttls, login=login,
                      timeout_s=config.timeout_s)


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
