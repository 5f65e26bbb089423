"""Paging targets are checked by their kind's adapter, named precisely when wrong."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, cast

import pytest

from monitor.adapters import pager_log
from monitor.adapters.pager_log import LogConfig
from monitor.adapters.pager_smtp import SmtpConfig
from monitor.adapters.pager_webhook import WebhookConfig
from monitor.adapters.pagers import PAGERS, target_config
from monitor.app.pager import TargetContext
from monitor.app.ports import PageDeliveryError
from monitor.domain.paging import PagingConfigError


def test_each_kind_is_checked_by_its_own_model() -> None:
    hook = target_config("hook", {"kind": "webhook", "url": "https://x", "secret_env": "S"})
    mail = target_config("mail", {"kind": "smtp", "host": "h", "sender": "a@b", "to": ["c@d"]})
    assert isinstance(hook, WebhookConfig)
    assert isinstance(mail, SmtpConfig)
    assert (hook.attempts, mail.port) == (3, 25)


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(PagingConfigError, match=r"targets\.x\.kind: 'fax' is not one of log, "
                                                 r"mqtt, smtp, webhook"):
        target_config("x", {"kind": "fax"})
    assert sorted(PAGERS) == ["log", "mqtt", "smtp", "webhook"]


def test_a_missing_or_unknown_key_names_the_target_and_the_key() -> None:
    with pytest.raises(PagingConfigError, match=r"targets\.hook\.url: Field required"):
        target_config("hook", {"kind": "webhook", "secret_env": "S"})
    with pytest.raises(PagingConfigError, match=r"targets\.topic\.qos: Extra inputs"):
        target_config("topic", {"kind": "mqtt", "qos": 2})


async def test_a_log_target_appends_each_page_as_a_json_line_and_fails_when_it_cannot(
    tmp_path: Path,
) -> None:
    config = target_config("trail", {"kind": "log", "path": "pages.log"})
    assert isinstance(config, LogConfig)
    context = TargetContext(publish=cast(Any, None), stack=AsyncExitStack(),
                            secret=str, data_dir=tmp_path)
    target = await pager_log.build("trail", config, context)
    await target.send({"alarm_id": "a1", "priority": "high"})
    await target.send({"alarm_id": "a2", "priority": "medium"})
    lines = [json.loads(line) for line in (tmp_path / "pages.log").read_text().splitlines()]
    assert lines == [{"alarm_id": "a1", "priority": "high", "target": "trail"},
                     {"alarm_id": "a2", "priority": "medium", "target": "trail"}]
    (tmp_path / "folder").mkdir()
    folder = await pager_log.build("folder", LogConfig(kind="log", path=Path("folder")),
                                   context)
    with pytest.raises(PageDeliveryError, match="Is a directory"):
        await folder.send({"alarm_id": "a3"})
