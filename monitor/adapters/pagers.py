"""Builds the pager from ``config/paging.toml`` and the secrets in the environment."""

from __future__ import annotations

import asyncio
import os
import tomllib
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from monitor.adapters.pager_mqtt import MqttAlertTarget, Publish
from monitor.adapters.pager_smtp import SmtpTarget
from monitor.adapters.pager_webhook import WebhookTarget
from monitor.app.pager import Delivery, Pager, Retry
from monitor.app.ports import PagerTarget
from monitor.domain.paging import (
    MqttAlertDoc,
    PagingConfigError,
    PagingPolicy,
    SmtpDoc,
    TargetDoc,
    load_paging,
)
from monitor.settings import SettingsError


def _secret(variable: str, target: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise SettingsError(f"paging target {target}: environment variable {variable} is not set")
    return value


async def _target(
    name: str, doc: TargetDoc, publish: Publish, stack: AsyncExitStack
) -> PagerTarget:
    if isinstance(doc, MqttAlertDoc):
        return MqttAlertTarget(name, publish)
    if isinstance(doc, SmtpDoc):
        login = None
        if doc.username_env and doc.password_env:
            login = (_secret(doc.username_env, name), _secret(doc.password_env, name))
        return SmtpTarget(name, host=doc.host, port=doc.port, sender=doc.sender, to=doc.to,
                          starttls=doc.starttls, login=login, timeout_s=doc.timeout_s)
    secret = _secret(doc.secret_env, name).encode()
    client = await stack.enter_async_context(httpx.AsyncClient(timeout=doc.timeout_s))
    return WebhookTarget(name, doc.url, secret, client)


async def build_pager(
    path: Path | None,
    publish: Publish,
    report: Callable[[Delivery], None],
    stack: AsyncExitStack,
) -> Pager:
    """The pager ``path`` describes (with no file, one that pages nobody).

    Raises:
        SettingsError: The file is invalid or a secret it names is not set.
    """
    if path is None:
        return Pager(PagingPolicy(()), {}, report)
    try:
        document = tomllib.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        policy, parsed = load_paging(document, str(path))
    except OSError as error:
        raise SettingsError(f"paging file {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, PagingConfigError) as error:
        raise SettingsError(f"paging file {path}: {error}") from None
    targets = {
        name: (await _target(name, doc, publish, stack), Retry(doc.attempts, doc.backoff_s))
        for name, doc in parsed.targets.items()
    }
    return Pager(policy, targets, report)
