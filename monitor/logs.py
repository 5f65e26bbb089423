"""Logging that never writes a token or a password down.

A board screen signs in with ``?token=...`` in its WebSocket URL, and uvicorn
logs an accepted WebSocket with its query string at INFO; a broker or
database URL may carry ``user:password@``. The filter here blanks any
``token=`` value and any password in a URL in every record of the loggers
that might carry one, whatever the log level in force.
"""

from __future__ import annotations

import logging
import re
from typing import Final

TOKEN_IN_TEXT: Final = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)
PASSWORD_IN_URL: Final = re.compile(r"(\w+://[^:/@\s]*:)\S+@")  # to the last @ of the URL
LOGGERS: Final = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "websockets.server",
                   "monitor")


class RedactTokens(logging.Filter):
    """Replaces ``token=<value>`` and ``://user:<password>@`` with ``<redacted>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's text if it carries a secret; always let it through."""
        text = record.getMessage()
        if "token=" in text.lower() or "@" in text:
            text = TOKEN_IN_TEXT.sub(r"\1<redacted>", text)
            record.msg, record.args = PASSWORD_IN_URL.sub(r"\1<redacted>@", text), None
        return True


def redact_tokens() -> None:
    """Install the filter on every logger that may see a URL (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
