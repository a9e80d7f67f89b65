"""API tokens: long-lived bearer credentials for machines, scoped to one tenant (Replicate-style)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from stratus.models.records import TenantRecord

# The secret is shown once and stored only as its SHA-256.
MAX_LIFETIME_DAYS = 365


class TokenCreate(BaseModel):
    """A new token: a name to recognise it by, and an optional lifetime."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w .@:-]+$")
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_LIFETIME_DAYS)


class TokenRecord(TenantRecord):
    """A token as stored (internal): never the secret, only its hash."""

    token_id: str
    name: str
    token_hash: str
    # The secret's first characters, so people can tell their tokens apart in a list.
    prefix: str
    expires_at: int | None = None


class Token(BaseModel):
    """A token as listed: everything but the secret."""

    token_id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None = None

    @classmethod
    def from_record(cls, record: TokenRecord) -> Token:
        """The public view of a stored token."""
        expires = datetime.fromtimestamp(record.expires_at, UTC) if record.expires_at else None
        return cls(
            token_id=record.token_id,
            name=record.name,
            prefix=record.prefix,
            created_at=datetime.fromtimestamp(record.created_at, UTC),
            expires_at=expires,
        )


class TokenCreated(Token):
    """A new token with its secret: the only time the secret is shown."""

    token: str
