"""What every tenant-owned record has in common."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel

S = TypeVar("S", bound=StrEnum)


def sources_in(transitions: Mapping[S, frozenset[S]], target: S) -> frozenset[S]:
    """Statuses from which ``target`` may be reached along ``transitions`` (source → targets)."""
    return frozenset(s for s, targets in transitions.items() if target in targets)


class TenantRecord(BaseModel):
    """A record owned by one tenant: its owner and when it was made (epoch seconds)."""

    tenant: str
    created_at: float


class TagFilter(BaseModel):
    """Compox's tag rule: every positive tag present, no negative tag present."""

    positive: list[str] = []
    negative: list[str] = []
