"""Executions: one run of a deployed algorithm on input files (Compox's execution records)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ExecutionStatus(StrEnum):
    """Compox's execution statuses; COMPLETED, FAILED and STOPPED are final."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


# The allowed status changes, source → targets; everything else is an IllegalTransitionError.
# COMPLETED only from RUNNING: the runtime marks RUNNING as it enters the first hook (as Compox does).
EXECUTION_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.PENDING: frozenset(
        {ExecutionStatus.STARTED, ExecutionStatus.FAILED, ExecutionStatus.STOPPED}
    ),
    ExecutionStatus.STARTED: frozenset(
        {ExecutionStatus.RUNNING, ExecutionStatus.FAILED, ExecutionStatus.STOPPED}
    ),
    ExecutionStatus.RUNNING: frozenset(
        {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.STOPPED}
    ),
    ExecutionStatus.COMPLETED: frozenset(),
    ExecutionStatus.FAILED: frozenset(),
    ExecutionStatus.STOPPED: frozenset(),
}
# Progress is recorded only while the algorithm may still be working.
ACTIVE_STATUSES = frozenset({ExecutionStatus.STARTED, ExecutionStatus.RUNNING})


def sources_of(target: ExecutionStatus) -> frozenset[ExecutionStatus]:
    """Statuses from which ``target`` may be reached."""
    return frozenset(s for s, targets in EXECUTION_TRANSITIONS.items() if target in targets)


def is_terminal(status: ExecutionStatus) -> bool:
    """Whether no status change can follow ``status``."""
    return not EXECUTION_TRANSITIONS[status]


class ExecutionError(BaseModel):
    """Why an execution failed, for clients that branch on it (the traceback is in the log)."""

    type: str = Field(description="The exception's class name, e.g. RuntimeError or NotFoundError")
    message: str


class ExecutionCreate(BaseModel):
    """Compox's IncomingExecutionRequest: run an algorithm on input files."""

    model_config = ConfigDict(extra="forbid")

    algorithm_id: str = Field(min_length=1, max_length=128)
    input_dataset_ids: list[str] = Field(max_length=1000)
    checkpoint_id: str | None = Field(default=None, max_length=128)
    algorithm_minor_version: str | None = Field(default=None, pattern=r"^\d{1,8}$")
    execution_device_override: str | None = Field(default=None, max_length=32)
    additional_parameters: dict[str, Any] = Field(default_factory=dict)
    session_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,128}$")


class ExecutionRecord(BaseModel):
    """An execution as stored in the table (internal); times are epoch seconds."""

    execution_id: str
    tenant: str
    algorithm_id: str
    algorithm_minor_version: str | None = None
    checkpoint_id: str | None = None
    input_dataset_ids: list[str]
    execution_device_override: str | None = None
    resolved_execution_device: str | None = None
    additional_parameters: dict[str, Any] = Field(default_factory=dict)
    session_token: str | None = None
    output_dataset_ids: list[str] = Field(default_factory=list)
    status: ExecutionStatus = ExecutionStatus.PENDING
    progress: float = 0.0
    time_started: float | None = None
    time_completed: float | None = None
    log: str = ""
    # Bumped by every write that changes `log`, so read-modify-write appends detect a concurrent append.
    log_version: int = 0
    error: ExecutionError | None = None
    stop_requested_at: float | None = None
    created_at: float
    expires_at: int


# Step Functions task inputs (statemachines/execution.asl.json): ids only, dispatched on `action`.
class TaskFailure(BaseModel):
    """What a Catch put at ``$.error``: Step Functions' error name and cause."""

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")


class MarkStartedTask(BaseModel):
    """PENDING → STARTED before the Batch job is submitted."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["mark_started"]
    execution_id: str = Field(min_length=1, max_length=128)


class FinalizeTask(BaseModel):
    """After the Batch job: the record must be final."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["finalize"]
    execution_id: str = Field(min_length=1, max_length=128)


class MarkFailedTask(BaseModel):
    """A state failed: the record ends FAILED with the error and cause."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["mark_failed"]
    execution_id: str = Field(min_length=1, max_length=128)
    error: TaskFailure


ExecutionTask = Annotated[MarkStartedTask | FinalizeTask | MarkFailedTask, Field(discriminator="action")]


class ExecutionTaskResult(BaseModel):
    """What every execution task returns: the id and the record's status after the task."""

    execution_id: str
    status: ExecutionStatus


class ExecutionStarted(BaseModel):
    """Compox's answer to execute-algorithm."""

    execution_id: str


class ExecutionStopped(BaseModel):
    """The answer to a stop request."""

    detail: str


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
                }
            ),
            time_started=_iso(record.time_started),
            time_completed=_iso(record.time_completed),
            time_created=datetime.fromtimestamp(record.created_at, UTC),
            expires_at=datetime.fromtimestamp(record.expires_at, UTC),
        )


class ExecutionPage(BaseModel):
    """One page of executions, newest first."""

    items: list[Execution]
    next_cursor: str | None


def _iso(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp is not None else ""
