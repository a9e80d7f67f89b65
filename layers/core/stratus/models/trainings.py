"""Trainings: a job that trains an algorithm on samples in rounds (seed 001's learnuplets), saving
checkpoints (Compox's training-store)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stratus.models.algorithms import AlgorithmRef
from stratus.models.ids import CheckpointId, Distinct, SampleId
from stratus.models.jobs import (
    BatchScheduling,
    JobError,
    JobRecord,
    JobStatus,
    JobUpdate,
    Kpi,
    Priority,
    StrictTask,
    TaskFailure,
    iso,
)
from stratus.models.webhooks import WebhookEvent, WebhookSubscription

MAX_ROUNDS = 1000


class Selection(BaseModel):
    """How a chain picks its best checkpoint: a metric the runner puts in checkpoint properties."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=128)
    mode: Literal["min", "max"] = "min"


class ChainData(BaseModel):
    """Samples to train on and how to split them into rounds (a new training's, or an extension's)."""

    # Strict: "3" is not a number of rounds.
    model_config = ConfigDict(extra="forbid", strict=True)

    training_data: Annotated[list[SampleId], Distinct] = Field(min_length=1, max_length=1000)
    rounds: int | None = Field(default=None, ge=1, le=MAX_ROUNDS, description="Split the samples into rounds")
    round_size: int | None = Field(default=None, ge=1, description="Samples per round (instead of rounds)")

    @model_validator(mode="after")
    def _one_split(self) -> ChainData:
        if self.rounds is not None and self.round_size is not None:
            raise ValueError("give rounds or round_size, not both")
        if self.rounds is not None and self.rounds > len(self.training_data):
            raise ValueError("rounds cannot exceed the number of training samples")
        return self


class TrainingCreate(ChainData, AlgorithmRef, WebhookSubscription):
    """Compox's IncomingTrainingRequest, plus the chain fields (rounds, validation data, selection); the
    algorithm by id, or by name and major."""

    checkpoint_id: CheckpointId | None = None
    algorithm_minor_version: str | None = Field(default=None, pattern=r"^\d{1,8}$")
    tags: list[str] = Field(default_factory=list, max_length=64)
    additional_parameters: dict[str, Any] | None = None
    execution_device_override: str | None = Field(default=None, max_length=32)
    validation_data: Annotated[list[SampleId], Distinct] = Field(default_factory=list, max_length=1000)
    selection: Selection | None = None
    priority: Priority = 0


class TrainingExtend(ChainData):
    """More samples for an ended chain: new rounds that start from its best checkpoint."""


TrainingUpdate = JobUpdate


class RoundStatus(StrEnum):
    """Where one round of a chain is."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"


class Round(BaseModel):
    """One round of a chain: its samples, the checkpoint it starts from and what it saved."""

    index: int
    sample_ids: list[str]
    status: RoundStatus = RoundStatus.PENDING
    start_checkpoint_id: str | None = None
    checkpoint_ids: list[str] = Field(default_factory=list)


class TrainingRecord(JobRecord):
    """A training as stored (internal); the samples' manifests are part of the plan, read at accept."""

    training_id: str
    training_data: list[str]
    validation_data: list[str] = Field(default_factory=list)
    samples: dict[str, dict[str, Any]] = Field(description="Sample id → manifest, as accepted")
    tags: list[str] = Field(default_factory=list)
    execution_device_override: str | None = None
    resolved_device: str | None = None
    state: dict[str, Any] = Field(default_factory=dict)
    output_checkpoint_ids: list[str] = Field(default_factory=list)
    best_checkpoint_id: str | None = None
    best_metric: float | None = None
    selection: Selection | None = None
    rounds: list[Round]
    current_round: int = 0
    current_step: int = 0
    total_steps: int = 0
    extends_training_id: str | None = None

    @property
    def job_id(self) -> str:
        """The id the job store keys on."""
        return self.training_id


class TrainingInput(BaseModel):
    """The training state machine's input (statemachines/training.asl.json)."""

    training_id: str
    device: str = Field(description="cuda: the GPU queue; else cpu")


class TrainingStarted(BaseModel):
    """Compox's TrainingResponse."""

    training_id: str


class Training(BaseModel):
    """Compox's TrainingRecord plus steps, ETA, the chain's rounds and its best checkpoint."""

    training_id: str
    algorithm_id: str
    status: JobStatus
    progress: float
    time_started: str
    time_completed: str | None
    log: str
    training_data: list[str]
    validation_data: list[str]
    additional_parameters: dict[str, Any]
    state: dict[str, Any]
    tags: list[str]
    checkpoint_id: str | None
    algorithm_minor_version: str | None
    output_checkpoint_ids: list[str]
    best_checkpoint_id: str | None
    rounds: list[Round]
    current_round: int
    current_step: int
    total_steps: int
    eta_seconds: float | None = Field(description="Seconds left, estimated from progress while RUNNING")
    resolved_device: str | None
    extends_training_id: str | None
    error: JobError | None
    kpis: dict[str, Kpi] = Field(description="KPIs the job reported, by name")
    priority: int
    webhook_url: str | None
    webhook_events: list[WebhookEvent]
    time_created: datetime
    expires_at: datetime

    @classmethod
    def from_record(cls, record: TrainingRecord, now: float) -> Training:
        """Shape a stored record for clients."""
        return cls(
            **record.model_dump(
                include={
                    "training_id",
                    "algorithm_id",
                    "status",
                    "progress",
                    "log",
                    "training_data",
                    "validation_data",
                    "additional_parameters",
                    "state",
                    "tags",
                    "checkpoint_id",
                    "algorithm_minor_version",
                    "output_checkpoint_ids",
                    "best_checkpoint_id",
                    "current_step",
                    "total_steps",
                    "resolved_device",
                    "extends_training_id",
                    "error",
                    "kpis",
                    "priority",
                    "webhook_url",
                    "webhook_events",
                }
            ),
            rounds=record.rounds,
            # Stored as a place in this record's list; clients see the chain-wide round number.
            current_round=record.rounds[record.current_round].index if record.rounds else 0,
            time_started=iso(record.time_started),
            time_completed=iso(record.time_completed) or None,
            eta_seconds=_eta(record, now),
            time_created=datetime.fromtimestamp(record.created_at, UTC),
            expires_at=datetime.fromtimestamp(record.expires_at, UTC),
        )


def _eta(record: TrainingRecord, now: float) -> float | None:
    if record.status is not JobStatus.RUNNING or record.time_running is None or record.progress <= 0:
        return None
    elapsed = max(now - record.time_running, 0.0)
    return round(elapsed * (1.0 - record.progress) / record.progress, 1)


class TrainingPage(BaseModel):
    """One page of trainings, newest first."""

    items: list[Training]
    next_cursor: str | None


# Step Functions task inputs (statemachines/training.asl.json): ids only, dispatched on `action`.
class PrepareTrainingTask(StrictTask):
    """PENDING → STARTED and tag the inputs held; returns the chain's first round."""

    action: Literal["prepare_training"]
    training_id: str = Field(min_length=1, max_length=128)


class SelectBestTask(StrictTask):
    """After a round's Batch job: pick the best checkpoint so far and say whether another round follows."""

    action: Literal["select_best"]
    training_id: str = Field(min_length=1, max_length=128)
    round: int = Field(ge=0)


class FinalizeTrainingTask(StrictTask):
    """After the last round: the record ends COMPLETED (unless already final); inputs are released."""

    action: Literal["finalize_training"]
    training_id: str = Field(min_length=1, max_length=128)


class MarkTrainingFailedTask(StrictTask):
    """A state failed: the record ends FAILED with the error and cause."""

    action: Literal["mark_training_failed"]
    training_id: str = Field(min_length=1, max_length=128)
    error: TaskFailure


TrainingTask = Annotated[
    PrepareTrainingTask | SelectBestTask | FinalizeTrainingTask | MarkTrainingFailedTask,
    Field(discriminator="action"),
]


class ChainStep(BaseModel):
    """What a training task returns: the round to run next, whether the chain is done, the status, and
    what the round's Batch submit passes to the fair-share queue."""

    training_id: str
    round: int
    done: bool
    status: JobStatus
    scheduling: BatchScheduling
