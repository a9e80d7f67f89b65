"""TrainingStore: training records (a job kind) and what only trainings have: rounds and checkpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr

from stratus.errors import IllegalTransitionError
from stratus.models.jobs import LIVE_STATUSES
from stratus.models.trainings import RoundStatus, TrainingRecord
from stratus.stores.base import document_path
from stratus.stores.jobs import JobStore

if TYPE_CHECKING:
    from stratus.models.checkpoints import CheckpointRecord
    from stratus.stores.checkpoints import CheckpointStore


class TrainingStore(JobStore[TrainingRecord]):
    """Training records: Compox's training-store, on the shared job model."""

    kind = "training"
    job_kind = "training"
    id_field = "training_id"
    model = TrainingRecord

    def add_checkpoint(self, checkpoints: CheckpointStore, record: CheckpointRecord, position: int) -> None:
        """Create the checkpoint ``record`` and append it to the training's outputs and to the round at
        ``position``, in one transaction. Raises IllegalTransitionError (the training ended meanwhile)."""
        names: dict[str, str] = {}
        outputs = document_path("output_checkpoint_ids", "#outputs", names)
        saved = document_path(f"rounds[{position}].checkpoint_ids", "#saved", names)
        update = {
            "Update": {
                "Key": self.key(record.training_id),
                "UpdateExpression": (
                    f"SET {outputs} = list_append({outputs}, :id), {saved} = list_append({saved}, :id)"
                ),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {":id": [record.checkpoint_id]},
                "Condition": self._live_condition() & Attr("status").is_in([s.value for s in LIVE_STATUSES]),
            }
        }
        if self.transact([checkpoints.create_write(record), update]) is not None:
            raise IllegalTransitionError(
                f"training {record.training_id} ended before the checkpoint was saved"
            )

    def set_round(
        self, training_id: str, position: int, status: RoundStatus, start: str | None = None
    ) -> TrainingRecord:
        """Move the round at ``position`` to ``status`` (with its start checkpoint) while the training is
        live; a round starts only while no stop is requested. Raises NotFoundError, IllegalTransitionError."""
        values: dict[str, Any] = {f"rounds[{position}].status": status.value, "current_round": position}
        if start is not None:
            values[f"rounds[{position}].start_checkpoint_id"] = start
        no_stop = Attr("stop_requested_at").not_exists() if status is RoundStatus.RUNNING else None
        return self.update_active(training_id, values, no_stop)
