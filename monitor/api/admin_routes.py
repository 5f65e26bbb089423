"""Routes of token management (admin only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from monitor.api.deps import Admin, Context
from monitor.app.auth import Principal, Role, new_token, token_hash
from monitor.app.counters import now_ms

router = APIRouter(prefix="/api/tokens", tags=["admin"])


class NewToken(BaseModel):
    """``POST /api/tokens``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$",
                      description="who uses it (the audit log records this name)")
    role: Role = Field(description="viewer, nurse or admin")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_token(body: NewToken, context: Context, admin: Admin) -> dict[str, Any]:
    """Issue a token; it is shown in this answer only."""
    token = new_token()
    hashed = token_hash(token)
    token_id = await context.store.add_token(body.name, body.role, hashed, now_ms())
    context.tokens.add(hashed, Principal(body.name, body.role))
    await context.store.audit(now_ms(), admin.name, "token_created", None,
                              {"id": token_id, "name": body.name, "role": body.role})
    return {"id": token_id, "name": body.name, "role": body.role, "token": token}


@router.get("")
async def list_tokens(context: Context, _: Admin) -> dict[str, list[dict[str, Any]]]:
    """Tokens in force (never the tokens themselves)."""
    return {"tokens": [
        {k: v for k, v in row.items() if k != "hash"} for row in await context.store.tokens()
    ]}


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="the token's id")],
    context: Context, admin: Admin,
) -> None:
    """Revoke a token at once."""
    hashed = await context.store.revoke_token(token_id, now_ms())
    if hashed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id} in force")
    context.tokens.remove(hashed)
    await context.store.audit(now_ms(), admin.name, "token_revoked", None, {"id": token_id})
