"""TrainingContext: the RunnerContext of one round of a training: its samples, steps, state and
checkpoints."""

from __future__ import annotations

import hashlib
import math
import uuid
from typing import TYPE_CHECKING, Any

from stratus.algorithms import StopRequested
from stratus.errors import IllegalTransitionError, InvalidInputError, NotFoundError
from stratus.models.checkpoints import CheckpointRecord
from stratus.models.jobs import JobStatus
from stratus.models.trainings import Round, RoundStatus, TrainingRecord
from stratus.stores.layout import asset_key

from gpu_worker.context import JobContext

if TYPE_CHECKING:
    from pathlib import Path

    from stratus.settings import Settings
    from stratus.stores import Stores


TRAINING_WRITE_INTERVAL_S = 1.0


class TrainingContext(JobContext[TrainingRecord]):
    """One round of a training chain as its runner sees it; the round starts from the best checkpoint
    so far (or the training's own start checkpoint, or the algorithm's assets)."""

    # A training reports every optimizer step for hours; once a second keeps the ETA fresh and a stop
    # prompt, and leaves the worker's cores to training (every write is billed on the whole record, too).
    write_interval_s = TRAINING_WRITE_INTERVAL_S

    def __init__(
        self,
        training: TrainingRecord,
        round_index: int,
        stores: Stores,
        settings: Settings,
        package_dir: Path,
        device: str,
    ) -> None:
        super().__init__(training, stores.trainings, stores, settings, package_dir, device)
        self._training = training
        # The round's place in this record's list (Round.index numbers rounds across extended chains).
        self._position = round_index
        self.round: Round = training.rounds[round_index]
        self.start_checkpoint_id = training.best_checkpoint_id or training.plan.checkpoint_id
        self.start_assets = dict(training.plan.assets)
        if training.best_checkpoint_id is not None:
            self.start_assets.update(stores.checkpoints.get(training.best_checkpoint_id).assets)
        self._steps = (0, 0)
        self._is_state_dirty = False
        self._last_state_write = -math.inf

    def _running_values(self) -> dict[str, Any]:
        return {"resolved_device": self._device}

    def mark_running(self) -> None:
        """The round starts: the training goes RUNNING (first round) and the round RUNNING; raises
        StopRequested when the training ended or a stop was requested."""
        # The record was read as the job began; the writes' guards tell whether it ended or must stop.
        if self._training.status is JobStatus.STARTED:
            super().mark_running()
        try:
            self._known = self._stores.trainings.set_round(
                self.job_id, self._position, RoundStatus.RUNNING, self.start_checkpoint_id
            )
        except IllegalTransitionError:
            raise StopRequested("the training ended or was asked to stop before the round started") from None

    def _scaled(self, progress: float) -> float:
        # A round is one part of the chain's progress.
        return (self._position + progress) / len(self._training.rounds)

    def _progress_values(self) -> dict[str, Any]:
        current, total = self._steps
        rounds = len(self._training.rounds)
        values: dict[str, Any] = {
            "current_step": self._position * total + current,
            "total_steps": rounds * total,
        }
        if self._is_state_dirty:
            # The state rides along with the progress write: no write of its own.
            values["state"], self._is_state_dirty = dict(self.get_state()), False
        return values

    def set_steps(self, current_step: int, total_steps: int) -> None:
        """Steps of this round; the record counts them over the whole chain."""
        self._steps = (current_step, total_steps)
        self.set_progress(current_step / max(total_steps, 1))

    def set_state(self, state: dict[str, Any]) -> None:
        """Publish the training's free-form state in its record (as Compox does), throttled as progress is:
        a runner may set it every step, and every write is billed on the whole record."""
        self._note_state(state)
        self._is_state_dirty = True
        if self._stores.clock() - self._last_state_write >= self.write_interval_s:
            self._write_state()

    def _write_state(self) -> None:
        # The state's KPIs ride along: one write for both.
        self._last_state_write = self._stores.clock()
        self._is_state_dirty = False
        record = self._write_with_kpis(
            {"state": dict(self.get_state())},
            lambda values: self._stores.trainings.update_active(self.job_id, values),
        )
        if record is not None:
            self._known = record

    def read_samples(self, sample_ids: list[str]) -> list[dict[str, Any]]:
        """The manifests of the training's samples, as they were when it was accepted.

        Raises NotFoundError (not a sample of this training).
        """
        manifests = []
        for sample_id in sample_ids:
            manifest = self._training.samples.get(sample_id)
            if manifest is None:
                raise NotFoundError(f"sample {sample_id} is not one of this training's samples")
            manifests.append(manifest)
        return manifests

    def validation_sample_ids(self) -> list[str]:
        """The samples the training may evaluate on."""
        return list(self._training.validation_data)

    def save_checkpoint(self, assets: dict[str, bytes], properties: dict[str, Any]) -> str:
        """Store the assets (content-addressed) and a checkpoint standing for the whole asset set; the
        training and its round list it. Raises InvalidInputError (a path the algorithm does not have),
        IllegalTransitionError (the training ended)."""
        unknown = sorted(set(assets) - set(self._training.plan.assets))
        if unknown:
            raise InvalidInputError(
                f"checkpoint assets must be assets of the algorithm; unknown: {', '.join(unknown)}"
            )
        saved = dict(self.start_assets)
        for path, content in assets.items():
            digest = hashlib.sha256(content).hexdigest()
            if not self._stores.objects.exists(asset_key(digest)):
                self._stores.objects.put(asset_key(digest), content)
            saved[path] = digest
        training = self._training
        record = CheckpointRecord(
            checkpoint_id=str(uuid.uuid4()),
            tenant=training.tenant,
            training_id=training.training_id,
            parent_algorithm_id=training.algorithm_id,
            algorithm_minor_version=str(training.plan.algorithm_minor),
            parent_checkpoint_id=self.start_checkpoint_id,
            round=self.round.index,
            properties=dict(properties),
            tags=list(training.tags),
            kpis=self.kpis,
            assets=saved,
            created_at=self._stores.clock(),
        )
        self._stores.trainings.add_checkpoint(self._stores.checkpoints, record, self._position)
        self.log("INFO", f"Saved checkpoint {record.checkpoint_id}.")
        return record.checkpoint_id

    def finish_round(self) -> TrainingRecord:
        """The round is COMPLETED (its log lines flushed); the training stays RUNNING for the chain.

        Raises IllegalTransitionError (the training ended meanwhile).
        """
        self.flush()
        if self._is_state_dirty:
            self._write_state()
        return self._stores.trainings.set_round(self.job_id, self._position, RoundStatus.COMPLETED)
