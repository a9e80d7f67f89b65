"""TrainingStore: training records (a job kind) and what only trainings have: rounds and checkpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr

from stratus.errors import IllegalTransitionError
from stratus.models.jobs import JobStatus, is_terminal
from stratus.models.trainings import RoundStatus, TrainingRecord
from stratus.stores.base import from_item, to_item
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

    def add_checkpoint(
        self, checkpoints: CheckpointStore, record: CheckpointRecord, round_index: int
    ) -> None:
        """Create the checkpoint ``record`` and append it to the training's outputs and its round's, in
        one transaction. Raises IllegalTransitionError (the training ended meanwhile)."""
        live = [s.value for s in JobStatus if not is_terminal(s)]
        update = {
            "Update": {
                "Key": self.key(record.training_id),
                "UpdateExpression": (
                    "SET #outputs = list_append(#outputs, :id), "
                    "#rounds["
                    + str(round_index)
                    + "].#ids = list_append(#rounds["
                    + str(round_index)
                    + "].#ids, :id)"
                ),
                "ExpressionAttributeNames": {
                    "#outputs": "output_checkpoint_ids",
                    "#rounds": "rounds",
                    "#ids": "checkpoint_ids",
                },
                "ExpressionAttributeValues": {":id": [record.checkpoint_id]},
                "Condition": self._live_condition() & Attr("status").is_in(live),
            }
        }
        if self._transact([checkpoints.create_write(record), update]) is not None:
            raise IllegalTransitionError(
                f"training {record.training_id} ended before the checkpoint was saved"
            )

    def set_round(
        self, training_id: str, index: int, status: RoundStatus, start: str | None = None
    ) -> TrainingRecord:
        """Move round ``index`` to ``status`` (with its start checkpoint) while the training is live.

        Raises NotFoundError, IllegalTransitionError.
        """
        values: dict[str, Any] = {f"rounds[{index}].status": status.value, "current_round": index}
        if start is not None:
            values[f"rounds[{index}].start_checkpoint_id"] = start
        return self._set_paths(training_id, values)

    def _set_paths(self, training_id: str, values: dict[str, Any]) -> TrainingRecord:
        # Document paths (rounds[2].status) need a placeholder per segment, which _update does not do.
        names: dict[str, str] = {}
        sets = []
        for i, (path, _) in enumerate(values.items()):
            parts = []
            for j, segment in enumerate(path.split(".")):
                name, _, index = segment.partition("[")
                names[f"#path{i}_{j}"] = name
                parts.append(f"#path{i}_{j}" + (f"[{index}" if index else ""))
            sets.append(f"{'.'.join(parts)} = :set{i}")
        live = [s.value for s in JobStatus if not is_terminal(s)]
        try:
            response = self._table.update_item(
                Key=self.key(training_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=self._live_condition() & Attr("status").is_in(live),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item({f":set{i}": v for i, v in enumerate(values.values())}),
                ReturnValues="ALL_NEW",
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as exc:
            raise IllegalTransitionError(f"training {training_id} is final") from exc
        return TrainingRecord.model_validate(from_item(response["Attributes"]))
