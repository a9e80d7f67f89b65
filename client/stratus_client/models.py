"""Typed views of the API's public answers; tolerant (`extra="allow"`), so fields a newer server adds
never break an older client, and they stay readable as attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Job statuses after which nothing changes.
FINAL_JOB_STATUSES = frozenset({"COMPLETED", "FAILED", "STOPPED"})
FINAL_WORKFLOW_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


class ApiModel(BaseModel):
    """Base of every answer: unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class FileInfo(ApiModel):
    """A file's status and metadata (`GET /files/{id}/status`)."""

    file_id: str
    status: str
    size: int | None = None
    reason: str | None = None
    time_created: datetime | None = None
    expires_at: datetime | None = None


class FilePage(ApiModel):
    items: list[FileInfo]
    next_cursor: str | None = None


class UploadPart(ApiModel):
    part_number: int
    size: int
    url: str


class Upload(ApiModel):
    """Where a presigned upload sends its bytes: one PUT to `upload_url`, or one PUT per part."""

    file_id: str
    upload_url: str | None = None
    part_size: int | None = None
    parts: list[UploadPart] = Field(default_factory=list)
    complete_url: str | None = None
    expires_at: datetime | None = None


class Algorithm(ApiModel):
    """An algorithm as the registry lists it, with its parameters' JSON schema."""

    algorithm_id: str
    algorithm_name: str
    algorithm_version: str = ""
    algorithm_minor_versions: list[str] = Field(default_factory=list)
    latest_algorithm_minor_version: str = ""
    algorithm_type: str = ""
    algorithm_tags: list[str] = Field(default_factory=list)
    algorithm_description: str = ""
    supported_devices: list[str] = Field(default_factory=list)
    default_device: str = ""
    additional_parameters: list[dict[str, Any]] = Field(default_factory=list)
    training_parameters: list[dict[str, Any]] = Field(default_factory=list)
    removable: bool = False
    exportable: bool = False
    builtin: bool = False
    parameter_schema: dict[str, Any] = Field(default_factory=dict)

    @property
    def major(self) -> int:
        """The major version (`algorithm_version` is the major as a string)."""
        return int(self.algorithm_version.split(".")[0] or 0)


class AlgorithmDeployed(ApiModel):
    algorithm_id: str
    algorithm_name: str
    algorithm_major_version: str
    algorithm_minor_version: str


class JobError(ApiModel):
    """Why a job failed: the exception's class and message (the traceback is in the log)."""

    type: str
    message: str


class Job(ApiModel):
    """What executions and trainings share (the server's one job model)."""

    algorithm_id: str
    status: str
    progress: float = 0.0
    additional_parameters: dict[str, Any] = Field(default_factory=dict)
    checkpoint_id: str | None = None
    time_started: str = ""
    log: str = ""
    error: JobError | None = None
    priority: int = 0
    time_created: datetime | None = None
    expires_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES


class Execution(Job):
    """An execution record."""

    execution_id: str
    input_dataset_ids: list[str] = Field(default_factory=list)
    output_dataset_ids: list[str] = Field(default_factory=list)
    algorithm_minor_version: str | None = None
    execution_device_override: str | None = None
    resolved_execution_device: str | None = None
    session_token: str | None = None
    time_completed: str = ""


class ExecutionPage(ApiModel):
    items: list[Execution]
    next_cursor: str | None = None


class Round(ApiModel):
    index: int
    sample_ids: list[str] = Field(default_factory=list)
    status: str = "PENDING"
    start_checkpoint_id: str | None = None
    checkpoint_ids: list[str] = Field(default_factory=list)


class Training(Job):
    """A training record: a chain of rounds, each saving checkpoints."""

    training_id: str
    training_data: list[str] = Field(default_factory=list)
    validation_data: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    output_checkpoint_ids: list[str] = Field(default_factory=list)
    best_checkpoint_id: str | None = None
    rounds: list[Round] = Field(default_factory=list)
    current_round: int = 0
    current_step: int = 0
    total_steps: int = 0
    eta_seconds: float | None = None
    resolved_device: str | None = None
    time_completed: str | None = None


class TrainingPage(ApiModel):
    items: list[Training]
    next_cursor: str | None = None


class LogLine(ApiModel):
    line: int
    text: str


class LogPage(ApiModel):
    """Lines of a job's log; ask again from `next_line` to follow it."""

    lines: list[LogLine]
    next_line: int


class Checkpoint(ApiModel):
    checkpoint_id: str
    training_id: str
    parent_algorithm_id: str
    algorithm_minor_version: str = ""
    parent_checkpoint_id: str | None = None
    created_at: str = ""
    properties: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    round: int = 0


class Sample(ApiModel):
    sample_id: str
    files: list[dict[str, list[str]]] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    time_created: str = ""


class WorkflowStep(ApiModel):
    step_id: str
    task_type: str
    status: str
    config: dict[str, Any] = Field(default_factory=dict)
    dependencies: list[str] = Field(default_factory=list)
    task_id: str | None = None
    task_ids: list[str] = Field(default_factory=list)
    result: dict[str, Any] | None = None
    retry_count: int = 0
    error_message: str | None = None
    cached_from: str | None = None


class Workflow(ApiModel):
    """A workflow (a DAG of execution and training steps); `steps` is empty in list pages."""

    id: str
    name: str
    status: str
    description: str | None = None
    total_steps: int = 0
    completed_steps: int = 0
    progress: float = 0.0
    current_steps: list[str] = Field(default_factory=list)
    final_step_ids: list[str] = Field(default_factory=list)
    final_step_result: dict[str, Any] | None = None
    error_message: str | None = None
    errors: list[str] = Field(default_factory=list)
    steps: list[WorkflowStep] = Field(default_factory=list)
    created_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_WORKFLOW_STATUSES


class WorkflowPage(ApiModel):
    items: list[Workflow]
    next_cursor: str | None = None


class Token(ApiModel):
    """An API token; `token` (the secret) is only in the answer that created it."""

    token_id: str
    name: str
    prefix: str = ""
    created_at: datetime | None = None
    expires_at: datetime | None = None
    token: str | None = None


class Deleted(ApiModel):
    detail: str
