"""CheckpointStore: checkpoint records (Compox's algorithm-checkpoint-store)."""

from __future__ import annotations

from stratus.models.checkpoints import CheckpointRecord
from stratus.stores.base import TenantRecordStore


class CheckpointStore(TenantRecordStore[CheckpointRecord]):
    """Checkpoints: created with their training's update in one transaction (stores.trainings)."""

    kind = "checkpoint"
    id_field = "checkpoint_id"
    model = CheckpointRecord
