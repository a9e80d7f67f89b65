"""API tokens: issue (the secret shown once), list, revoke, and resolve a secret to its tenant."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import TYPE_CHECKING

from stratus.models.tokens import Token, TokenCreate, TokenCreated, TokenRecord

if TYPE_CHECKING:
    from stratus.stores.tokens import TokenStore

# Recognisable in logs and by secret scanners; 32 random bytes make a hash without salt safe to store.
TOKEN_PREFIX = "stratus_"
SECRET_BYTES = 32
SHOWN_PREFIX_CHARS = len(TOKEN_PREFIX) + 4
SECONDS_PER_DAY = 86400


def hash_token(token: str) -> str:
    """The stored form of a secret: its SHA-256 in hex (the secret has 256 random bits, no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_api_token(credential: str) -> bool:
    """Whether a bearer credential has the shape of our API tokens (rather than a JWT)."""
    return credential.startswith(TOKEN_PREFIX)


def issue(body: TokenCreate, tenant: str, tokens: TokenStore, now: float) -> TokenCreated:
    """Make a token for ``tenant``; the answer is the only place its secret ever appears."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    expires_at = int(now) + body.expires_in_days * SECONDS_PER_DAY if body.expires_in_days else None
    record = TokenRecord(
        tenant=tenant,
        created_at=now,
        token_id=str(uuid.uuid4()),
        name=body.name,
        token_hash=hash_token(secret),
        prefix=secret[:SHOWN_PREFIX_CHARS],
        expires_at=expires_at,
    )
    tokens.create(record)
    return TokenCreated(**Token.from_record(record).model_dump(), token=secret)


def owner_of(token: str, tokens: TokenStore) -> tuple[str, str] | None:
    """The (tenant, token_id) of a live API token, or None (unknown, revoked or expired)."""
    return tokens.find_by_hash(hash_token(token))
