"""Paging targets are checked by their kind's adapter, named precisely when wrong."""

from __future__ import annotations

import pytest

from monitor.adapters.pager_smtp import SmtpConfig
from monitor.adapters.pager_webhook import WebhookConfig
from monitor.adapters.pagers import PAGERS, target_config
from monitor.domain.paging import PagingConfigError


def test_each_kind_is_checked_by_its_own_model() -> None:
    hook = target_config("hook", {"kind": "webhook", "url": "https://x", "secret_env": "S"})
    mail = target_config("mail", {"kind": "smtp", "host": "h", "sender": "a@b", "to": ["c@d"]})
    assert isinstance(hook, WebhookConfig)
    assert isinstance(mail, SmtpConfig)
    assert (hook.attempts, mail.port) == (3, 25)


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(PagingConfigError, match=r"targets\.x\.kind: 'fax' is not one of mqtt, "
                                                 r"smtp, webhook"):
        target_config("x", {"kind": "fax"})
    assert sorted(PAGERS) == ["mqtt", "smtp", "webhook"]


def test_a_missing_or_unknown_key_names_the_target_and_the_key() -> None:
    with pytest.raises(PagingConfigError, match=r"targets\.hook\.url: Field required"):
        target_config("hook", {"kind": "webhook", "secret_env": "S"})
    with pytest.raises(PagingConfigError, match=r"targets\.topic\.qos: Extra inputs"):
        target_config("topic", {"kind": "mqtt", "qos": 2})
