"""Executions: one run of a deployed algorithm on input files (Compox's execution records)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stratus.models.algorithms import AlgorithmRef
from stratus.models.ids import CheckpointId, Distinct, FileId
from stratus.models.jobs import (
    ACTIVE_STATUSES,
    JOB_TRANSITIONS,
    BatchScheduling,
    JobError,
    JobRecord,
    JobStatus,
    JobStopped,
    JobUpdate,
    Kpi,
    Priority,
    StrictTask,
    TaskFailure,
    is_terminal,
    iso,
    sources_of,
)
from stratus.models.webhooks import WebhookEvent, WebhookSubscription

__all__ = [
    "ACTIVE_STATUSES",
    "EXECUTION_TRANSITIONS",
    "Execution",
    "ExecutionCreate",
    "ExecutionError",
    "ExecutionInput",
    "ExecutionPage",
    "ExecutionRecord",
    "ExecutionStarted",
    "ExecutionStatus",
    "ExecutionStopped",
    "ExecutionTask",
    "ExecutionTaskResult",
    "ExecutionUpdate",
    "FinalizeTask",
    "MarkFailedTask",
    "MarkStartedTask",
    "TaskFailure",
    "is_terminal",
    "sources_of",
]

# Executions share the job model with trainings (models.jobs); the names stay for Compox-shaped code.
ExecutionStatus = JobStatus
ExecutionError = JobError
EXECUTION_TRANSITIONS = JOB_TRANSITIONS


class ExecutionCreate(AlgorithmRef, WebhookSubscription):
    """Compox's IncomingExecutionRequest: run an algorithm (by id, or by name and major) on input files."""

    model_config = ConfigDict(extra="forbid")

    input_dataset_ids: Annotated[list[FileId], Distinct] = Field(min_length=1, max_length=1000)
    checkpoint_id: CheckpointId | None = None
    algorithm_minor_version: str | None = Field(default=None, pattern=r"^\d{1,8}$")
    execution_device_override: str | None = Field(default=None, max_length=32)
    additional_parameters: dict[str, Any] = Field(default_factory=dict)
    session_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,128}$")
    priority: Priority = 0


class ExecutionRecord(JobRecord):
    """An execution as stored in the table (internal)."""

    execution_id: str
    input_dataset_ids: list[str]
    execution_device_override: str | None = None
    resolved_execution_device: str | None = None
    session_token: str | None = None
    output_dataset_ids: list[str] = Field(default_factory=list)

    @property
    def job_id(self) -> str:
        """The id the job store keys on."""
        return self.execution_id


class ExecutionInput(BaseModel):
    """The execution state machine's input (statemachines/execution.asl.json)."""

    execution_id: str
    device: str = Field(description="cuda: the GPU queue; else cpu")


# Step Functions task inputs (statemachines/execution.asl.json): ids only, dispatched on `action`.
class MarkStartedTask(StrictTask):
    """PENDING → STARTED before the Batch job is submitted."""

    action: Literal["mark_started"]
    execution_id: str = Field(min_length=1, max_length=128)


class FinalizeTask(StrictTask):
    """After the Batch job: the record must be final."""

    action: Literal["finalize"]
    execution_id: str = Field(min_length=1, max_length=128)


class MarkFailedTask(StrictTask):
    """A state failed: the record ends FAILED with the error and cause."""

    action: Literal["mark_failed"]
    execution_id: str = Field(min_length=1, max_length=128)
    error: TaskFailure


ExecutionTask = Annotated[MarkStartedTask | FinalizeTask | MarkFailedTask, Field(discriminator="action")]


class ExecutionTaskResult(BaseModel):
    """What every execution task returns: the id and the record's status after the task, and what the
    Batch submit that follows MarkStarted passes to the fair-share queue."""

    execution_id: str
    status: ExecutionStatus
    scheduling: BatchScheduling

    @classmethod
    def of(cls, record: ExecutionRecord) -> ExecutionTaskResult:
        """The result of a task that left the execution as ``record``."""
        return cls(
            execution_id=record.execution_id, status=record.status, scheduling=BatchScheduling.of(record)
        )


class ExecutionStarted(BaseModel):
    """Compox's answer to execute-algorithm."""

    execution_id: str


ExecutionStopped = JobStopped
ExecutionUpdate = JobUpdate


class Execution(BaseModel):
    """An execution as clients see it: Compox's ExecutionRecord plus the structured error and expiry."""

    execution_id: str
    algorithm_id: str
    checkpoint_id: str | None
    algorithm_minor_version: str | None
    input_dataset_ids: list[str]
    execution_device_override: str | None
    resolved_execution_device: str | None
    additional_parameters: dict[str, Any]
    session_token: str | None
    output_dataset_ids: list[str]
    status: ExecutionStatus
    progress: float
    time_started: str = Field(description="ISO 8601, or empty before the execution starts (as Compox)")
    time_completed: str = Field(description="ISO 8601, or empty until the execution ends (as Compox)")
    log: str
    error: ExecutionError | None
    kpis: dict[str, Kpi] = Field(description="KPIs the job reported, by name")
    priority: int
    webhook_url: str | None
    webhook_events: list[WebhookEvent]
    time_created: datetime
    expires_at: datetime

    @classmethod
    def from_record(cls, record: ExecutionRecord) -> Execution:
        """Shape a stored record for clients."""
        return cls(
            **record.model_dump(
                include={
                    "execution_id",
                    "algorithm_id",
                    "checkpoint_id",
                    "algorithm_minor_version",
                    "input_dataset_ids",
                    "execution_device_override",
                    "resolved_execution_device",
                    "additional_parameters",
                    "session_token",
                    "output_dataset_ids",
                    "status",
                    "progress",
                    "log",
                    "error",
                    "kpis",
                    "priority",
                    "webhook_url",
                    "webhook_events",
                }
            ),
            time_started=iso(record.time_started),
            time_completed=iso(record.time_completed),
            time_created=datetime.fromtimestamp(record.created_at, UTC),
            expires_at=datetime.fromtimestamp(record.expires_at, UTC),
        )


class ExecutionPage(BaseModel):
    """One page of executions, newest first."""

    items: list[Execution]
    next_cursor: str | None
