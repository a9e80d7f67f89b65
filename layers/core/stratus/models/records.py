"""What every tenant-owned record has in common."""

from __future__ import annotations

from pydantic import BaseModel


class TenantRecord(BaseModel):
    """A record owned by one tenant: its owner and when it was made (epoch seconds)."""

    tenant: str
    created_at: float


class TagFilter(BaseModel):
    """Compox's tag rule: every positive tag present, no negative tag present."""

    positive: list[str] = []
    negative: list[str] = []
