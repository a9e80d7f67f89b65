"""API tokens (Replicate-style): create one (its secret shown once), list them, revoke one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from stratus.api.deps import CallerDep, CursorQuery, LimitQuery, StoresDep, set_next_cursor
from stratus.models.files import Deleted
from stratus.models.ids import TokenId
from stratus.models.tokens import Token, TokenCreate, TokenCreated
from stratus.services import tokens as service

router = APIRouter(tags=["tokens"])

TokenIdPath = Annotated[TokenId, Path()]


@router.post("/tokens", status_code=201, summary="Create an API token for your tenant")
def create_token(body: TokenCreate, caller: CallerDep, stores: StoresDep) -> TokenCreated:
    """The new token with its secret: store it now, it is never shown again (only its hash is kept)."""
    return service.issue(body, caller.tenant, stores.tokens, stores.clock())


@router.get("/tokens", summary="List your tenant's API tokens, newest first")
def list_tokens(
    caller: CallerDep,
    stores: StoresDep,
    response: Response,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> list[Token]:
    """Every live token of your tenant, without secrets; more pages via X-Next-Cursor."""
    records, next_cursor = stores.tokens.list_recent(caller.tenant, limit, cursor)
    set_next_cursor(response, next_cursor)
    return [Token.from_record(r) for r in records]


@router.delete(
    "/tokens/{token_id}", summary="Revoke an API token", responses={404: {"description": "Unknown token"}}
)
def revoke_token(token_id: TokenIdPath, caller: CallerDep, stores: StoresDep) -> Deleted:
    """Revoke the token: requests with it are refused once API Gateway's authorizer cache lets go of it."""
    stores.tokens.revoke(token_id, caller.tenant)
    return Deleted(detail="Token revoked")
