"""Who may sign in: tokens from the store, the bootstrap token, and the demo's tokens."""

from __future__ import annotations

import asyncio
from typing import Final

from monitor.app.auth import (
    BOOTSTRAP_NAME,
    ROLES,
    Principal,
    TokenRegistry,
    new_token,
    token_hash,
    weak_secret,
)
from monitor.app.counters import now_ms
from monitor.app.ports import RecordStore
from monitor.settings import Settings, SettingsError

REFRESH_S: Final = 2.0
DEMO_PREFIX: Final = "demo-"


async def stored_principals(store: RecordStore) -> dict[str, Principal]:
    """Every stored token in force, by hash."""
    return {row["hash"]: Principal(row["name"], row["role"]) for row in await store.tokens()}


async def load_tokens(store: RecordStore, settings: Settings, *, demo: bool) -> TokenRegistry:
    """The registry at start-up.

    Raises:
        SettingsError: Outside demo mode, the bootstrap token is weak, or no
            token at all could sign in.
    """
    registry = TokenRegistry()
    if settings.bootstrap_token is not None:
        secret = settings.bootstrap_token.get_secret_value()
        why = weak_secret(secret)
        if why and not demo:
            raise SettingsError(f"MONITOR_BOOTSTRAP_TOKEN is refused: {why}")
        registry.fix(secret, Principal(BOOTSTRAP_NAME, "admin"))
    registry.replace(await stored_principals(store))
    if not demo and len(registry) == 0:
        raise SettingsError(
            "no token can sign in: set MONITOR_BOOTSTRAP_TOKEN (24 or more random characters) "
            "or create one with `monitor token create --name NAME --role admin`"
        )
    return registry


async def issue_demo_tokens(store: RecordStore, registry: TokenRegistry) -> dict[str, str]:
    """Fresh ``demo-<role>`` tokens, one per role (the previous ones are revoked)."""
    now = now_ms()
    for row in await store.tokens():
        if row["name"].startswith(DEMO_PREFIX):
            await store.revoke_token(row["id"], now)
    issued: dict[str, str] = {}
    for role in ROLES:
        token = new_token()
        await store.add_token(f"{DEMO_PREFIX}{role}", role, token_hash(token), now)
        issued[role] = token
    registry.replace(await stored_principals(store))
    return issued


async def keep_tokens_fresh(store: RecordStore, registry: TokenRegistry) -> None:
    """Follow tokens created or revoked outside this process (``monitor token``)."""
    while True:
        await asyncio.sleep(REFRESH_S)
        registry.replace(await stored_principals(store))
