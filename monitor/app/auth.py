"""Bearer tokens with roles: ``viewer`` reads, ``nurse`` also acts, ``admin`` also manages.

Tokens are random (256 bits) and stored only as their SHA-256, so a copy of
the database lets nobody in; a slow hash would add nothing for secrets that
cannot be guessed. The registry keeps the hashes in memory: checking a token
costs no I/O.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final, Literal

Role = Literal["viewer", "nurse", "admin"]
ROLES: Final[tuple[Role, ...]] = ("viewer", "nurse", "admin")
_RANK: Final[dict[Role, int]] = {"viewer": 1, "nurse": 2, "admin": 3}
WEAK_SECRETS: Final = frozenset({"", "changeme", "change-me", "admin", "secret", "password",
                                 "token", "test", "demo"})
MIN_SECRET_LENGTH: Final = 24


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a token belongs to: the name the audit log records, and the role."""

    name: str
    role: Role

    def may(self, role: Role) -> bool:
        """Whether this principal has at least ``role``."""
        return _RANK[self.role] >= _RANK[role]


def new_token() -> str:
    """A fresh token (shown once, never stored)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def weak_secret(secret: str) -> str | None:
    """Why ``secret`` is too weak for a real deployment, or None."""
    if secret.strip().lower() in WEAK_SECRETS:
        return "it is empty or a well-known default"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"it is shorter than {MIN_SECRET_LENGTH} characters"
    return None


BOOTSTRAP_NAME: Final = "bootstrap-admin"


class TokenRegistry:
    """The tokens in force, by hash."""

    def __init__(self) -> None:
        self._by_hash: dict[str, Principal] = {}
        self._fixed: dict[str, Principal] = {}

    def __len__(self) -> int:
        return len(self._by_hash)

    def fix(self, token: str, principal: Principal) -> None:
        """Accept a token that is not stored (the bootstrap token)."""
        self._fixed[token_hash(token)] = principal
        self._by_hash[token_hash(token)] = principal

    def replace(self, stored: dict[str, Principal]) -> None:
        """Accept exactly the stored tokens (by hash), and the fixed ones."""
        self._by_hash = {**stored, **self._fixed}

    def add(self, hashed: str, principal: Principal) -> None:
        """Accept a token (by its hash)."""
        self._by_hash[hashed] = principal

    def remove(self, hashed: str) -> None:
        """Stop accepting a token."""
        self._by_hash.pop(hashed, None)

    def lookup(self, token: str) -> Principal | None:
        """The principal of a presented token, if it is in force.

        A plain dict lookup: what could leak through its timing is a prefix of
        a SHA-256, which brings nobody closer to a token.
        """
        return self._by_hash.get(token_hash(token))
