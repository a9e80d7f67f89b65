"""Checkpoints: trained assets a training saved, usable in place of an algorithm's own."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from stratus.models.jobs import Kpi, iso
from stratus.models.records import TenantRecord


class CheckpointRecord(TenantRecord):
    """A checkpoint as stored (internal): the whole asset set (path → sha256) it stands for."""

    checkpoint_id: str
    training_id: str
    parent_algorithm_id: str
    algorithm_minor_version: str
    parent_checkpoint_id: str | None = None
    round: int = 0
    properties: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    # The KPIs its training had reported when it saved this checkpoint.
    kpis: dict[str, Kpi] = Field(default_factory=dict)
    assets: dict[str, str]


class Checkpoint(BaseModel):
    """Compox's AlgorithmCheckpointRecord plus the round of the training chain that saved it."""

    checkpoint_id: str
    training_id: str
    parent_algorithm_id: str
    created_at: str
    properties: dict[str, Any]
    tags: list[str]
    parent_checkpoint_id: str | None
    algorithm_minor_version: str
    round: int
    kpis: dict[str, Kpi] = Field(description="The training's KPIs when it saved this checkpoint")

    @classmethod
    def from_record(cls, record: CheckpointRecord) -> Checkpoint:
        """Shape a stored record for clients."""
        return cls(
            **record.model_dump(
                include={
                    "checkpoint_id",
                    "training_id",
                    "parent_algorithm_id",
                    "properties",
                    "tags",
                    "parent_checkpoint_id",
                    "algorithm_minor_version",
                    "round",
                    "kpis",
                }
            ),
            created_at=iso(record.created_at),
        )


class CheckpointPage(BaseModel):
    """One page of checkpoints, newest first."""

    items: list[Checkpoint]
    next_cursor: str | None
