"""The pager adapters by kind, and the pager built from ``config/paging.toml``.

Adding a way to page someone is one adapter module with its configuration
model (a :class:`~monitor.app.pager.TargetConfig` with its own ``kind``) and
a ``build()``, plus one line in :data:`PAGERS`.
"""

from __future__ import annotations

import asyncio
import os
import tomllib
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from monitor.adapters import pager_log, pager_mqtt, pager_smtp, pager_webhook
from monitor.app.pager import Pager, Retry, TargetConfig, TargetContext
from monitor.app.ports import PagerTarget
from monitor.domain.paging import PagingConfigError, PagingPolicy, load_paging
from monitor.settings import SettingsError

Build = Callable[[str, Any, TargetContext], Awaitable[PagerTarget]]

PAGERS: Final[dict[str, tuple[type[TargetConfig], Build]]] = {
    "webhook": (pager_webhook.WebhookConfig, pager_webhook.build),
    "smtp": (pager_smtp.SmtpConfig, pager_smtp.build),
    "mqtt": (pager_mqtt.MqttAlertConfig, pager_mqtt.build),
    "log": (pager_log.LogConfig, pager_log.build),
}
"""Every kind of paging target: its configuration model and how it is built."""


def _secret(target: str) -> Callable[[str], str]:
    def read(variable: str) -> str:
        value = os.environ.get(variable)
        if not value:
            raise SettingsError(
                f"paging target {target}: environment variable {variable} is not set")
        return value
    return read


def target_config(name: str, document: dict[str, Any]) -> TargetConfig:
    """Check one ``[targets.<name>]`` table against its kind's model.

    Raises:
        PagingConfigError: The kind is unknown, or a key is unknown, missing or ill-typed.
    """
    kind = document.get("kind")
    if kind not in PAGERS:
        raise PagingConfigError(f"targets.{name}.kind: {kind!r} is not one of "
                                f"{', '.join(sorted(PAGERS))}")
    model, _ = PAGERS[kind]
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise PagingConfigError("; ".join(
            f"targets.{name}.{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors())) from None


async def build_pager(
    path: Path | None,
    publish: Callable[[str, bytes], Awaitable[None]],
    stack: AsyncExitStack,
    data_dir: Path,
) -> Pager:
    """The pager ``path`` describes (with no file, one that pages nobody).

    Raises:
        SettingsError: The file is invalid or a secret it names is not set.
    """
    if path is None:
        return Pager(PagingPolicy(()), {})
    try:
        document = tomllib.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        policy, parsed = load_paging(document, str(path))
        configs = {name: target_config(name, raw) for name, raw in parsed.targets.items()}
    except OSError as error:
        raise SettingsError(f"paging file {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, PagingConfigError) as error:
        raise SettingsError(f"paging file {path}: {error}") from None
    targets: dict[str, tuple[PagerTarget, Retry]] = {}
    for name, config in configs.items():
        _, build = PAGERS[config.kind]
        context = TargetContext(publish=publish, stack=stack, secret=_secret(name),
                                data_dir=data_dir)
        targets[name] = (await build(name, config, context),
                         Retry(config.attempts, config.backoff_s))
    return Pager(policy, targets)
