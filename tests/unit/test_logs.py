"""The log filter blanks tokens and passwords in URLs, whatever logs them."""

from __future__ import annotations

import logging

from monitor.logs import RedactTokens


def redacted(message: str, *args: object) -> str:
    record = logging.LogRecord("monitor", logging.INFO, __file__, 1, message, args, None)
    RedactTokens().filter(record)
    return record.getMessage()


def test_a_password_in_a_url_is_blanked() -> None:
    assert redacted("connecting to %s", "mqtt://monitor:pa55@word@10.0.0.5:1883") == (
        "connecting to mqtt://monitor:<redacted>@10.0.0.5:1883")
    assert redacted("db postgresql://u:p@db/monitor") == "db postgresql://u:<redacted>@db/monitor"


def test_a_token_is_blanked_and_plain_text_is_left_alone() -> None:
    assert redacted("GET /ws/board?token=abc&x=1") == "GET /ws/board?token=<redacted>&x=1"
    assert redacted("nurse@clinic paged") == "nurse@clinic paged"
