"""Idempotency keys: a client's `Idempotency-Key` header bound to the request it first came with."""

from __future__ import annotations

from pydantic import BaseModel


class IdempotencyRecord(BaseModel):
    """A used key (internal): the body's hash and the id of what the first request created."""

    tenant: str
    key: str
    request_hash: str
    resource_id: str
    created_at: float
    expires_at: int
