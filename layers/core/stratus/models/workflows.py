"""Workflows: user-defined DAGs of execution and training steps (Sartiq's workflow model), run by one
generic state machine (statemachines/workflow.asl.json)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stratus.models.ids import Distinct
from stratus.models.records import TenantRecord
from stratus.models.webhooks import ALL_WEBHOOK_EVENTS, WebhookEvent, WebhookSubscription

MAX_STEPS = 1000
# A step's logical id (Sartiq's `generate`, `refine`): short, safe in a key and a URL path.
STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
StepId = Annotated[str, Field(pattern=STEP_ID_PATTERN, description="A step's id within its workflow")]
# `output_dataset_ids` or `output_dataset_ids[0]`.
FIELD_PATTERN = re.compile(r"^(?P<name>[a-z_]{1,64})(\[(?P<index>\d{1,4})\])?$")


class TaskType(StrEnum):
    """What a step runs: the request body of /execute-algorithm or /train-algorithm."""

    EXECUTION = "execution"
    TRAINING = "training"


class OnFailure(StrEnum):
    """What a step's failure (after its retries) does to the rest of the workflow."""

    STOP = "stop"
    CONTINUE = "continue"


class WorkflowStatus(StrEnum):
    """Sartiq's workflow statuses; COMPLETED and CANCELLED are final, FAILED and PAUSED can resume."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# The allowed status changes, source → targets (the API's and the runner's); the rest is a 409.
WORKFLOW_TRANSITIONS: dict[WorkflowStatus, frozenset[WorkflowStatus]] = {
    WorkflowStatus.PENDING: frozenset({WorkflowStatus.RUNNING, WorkflowStatus.CANCELLED}),
    WorkflowStatus.RUNNING: frozenset(
        {WorkflowStatus.PAUSED, WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED}
    ),
    WorkflowStatus.PAUSED: frozenset({WorkflowStatus.RUNNING, WorkflowStatus.CANCELLED}),
    WorkflowStatus.FAILED: frozenset({WorkflowStatus.RUNNING}),
    WorkflowStatus.COMPLETED: frozenset(),
    WorkflowStatus.CANCELLED: frozenset(),
}


class StepStatus(StrEnum):
    """A step's status (our choice; Sartiq names only PENDING): SKIPPED when an upstream step failed."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


# Steps that resume and retry put back to PENDING.
RERUN_STEP_STATUSES = frozenset({StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED})
FINAL_STEP_STATUSES = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}
)

# What a step's result offers to mappings, and what a step's body takes from them: name → is it a list.
SOURCE_FIELDS: dict[TaskType, dict[str, bool]] = {
    TaskType.EXECUTION: {"output_dataset_ids": True},
    TaskType.TRAINING: {"best_checkpoint_id": False, "output_checkpoint_ids": True},
}
TARGET_FIELDS: dict[TaskType, dict[str, bool]] = {
    TaskType.EXECUTION: {"input_dataset_ids": True, "checkpoint_id": False},
    TaskType.TRAINING: {"checkpoint_id": False},
}


class FieldMapping(BaseModel):
    """Sartiq's FieldMapping: before the step runs, an upstream step's output becomes one of its inputs
    (the mapped value overrides `config`; several mappings into a list field append in order)."""

    model_config = ConfigDict(extra="forbid")

    from_step: StepId
    from_field: str = Field(
        max_length=80, description="An output of from_step: output_dataset_ids, output_dataset_ids[0], …"
    )
    to_field: str = Field(max_length=80, description="A field of this step's body: input_dataset_ids, …")

    @field_validator("from_field")
    @classmethod
    def _field_syntax(cls, value: str) -> str:
        if FIELD_PATTERN.match(value) is None:
            raise ValueError("a field name, optionally with an index: output_dataset_ids[0]")
        return value


class WorkflowStepDefinition(BaseModel):
    """Sartiq's WorkflowStepDefinition, for our two task types."""

    model_config = ConfigDict(extra="forbid")

    id: StepId
    task_type: TaskType
    config: dict[str, Any] = Field(
        description="The body of /execute-algorithm or /train-algorithm; fields a mapping supplies may be "
        "left out"
    )
    depends_on: Annotated[list[StepId], Distinct] = Field(default_factory=list, max_length=MAX_STEPS)
    input_mappings: list[FieldMapping] = Field(default_factory=list, max_length=64)
    max_retries: int = Field(default=0, ge=0, le=10, description="Runs after the first failed one")
    timeout_seconds: int | None = Field(default=None, ge=1, le=7 * 86_400)
    cache: bool = Field(default=False, description="Reuse an earlier identical step's outputs")
    on_failure: OnFailure = Field(
        default=OnFailure.STOP,
        description="stop: no new steps start once this one failed; continue: independent branches go on",
    )


class WorkflowCreate(WebhookSubscription):
    """Sartiq's CreateWorkflow: a DAG of steps, what to say about it, and where to send its events
    (start, progress: a step completed, completed, failed, stopped: cancelled)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)
    steps: list[WorkflowStepDefinition] = Field(min_length=1, max_length=MAX_STEPS)
    config: dict[str, Any] = Field(default_factory=dict, description="Global configuration, kept as given")
    origin_instance: str | None = Field(default=None, min_length=1, max_length=100)
    origin_zone: str | None = Field(default=None, max_length=50)
    origin_tenant_id: str | None = Field(default=None, max_length=100)
    origin_reference: str | None = Field(default=None, max_length=512)
    priority: int = Field(default=0, ge=-100, le=100, description="Its steps' jobs' priority: higher first")


class WorkflowUpdate(BaseModel):
    """What may change while the workflow is PENDING."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)
    config: dict[str, Any] | None = None


class WorkflowRecord(TenantRecord):
    """A workflow as stored (internal); its steps are items of their own (StepRecord)."""

    workflow_id: str
    name: str
    description: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    origin_instance: str | None = None
    origin_zone: str | None = None
    origin_tenant_id: str | None = None
    origin_reference: str | None = None
    priority: int = 0
    webhook_url: str | None = None
    webhook_events: list[WebhookEvent] = Field(default_factory=lambda: list(ALL_WEBHOOK_EVENTS))
    status: WorkflowStatus = WorkflowStatus.PENDING
    total_steps: int
    completed_steps: int = 0
    final_step_ids: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    # The state machine run that drives it (runs are named <id>-<n>) and whether that run still goes on:
    # resume starts a new run only when the last one ended (else it just lets it go on).
    runner: str | None = None
    runner_active: bool = False
    run_count: int = 0
    started_at: float | None = None
    completed_at: float | None = None
    updated_at: float
    expires_at: int


class StepRecord(BaseModel):
    """One step of a workflow as stored (internal)."""

    workflow_id: str
    tenant: str
    step_id: str
    index: int = Field(description="Its place in the definition")
    definition: WorkflowStepDefinition
    status: StepStatus = StepStatus.PENDING
    task_id: str | None = None
    task_ids: list[str] = Field(default_factory=list, description="Every job the step ran, oldest first")
    result: dict[str, Any] | None = None
    retry_count: int = 0
    error_message: str | None = None
    cached_from: str | None = None
    # The cache key of the step's current job (steps with cache: true), remembered when it completes.
    cache_digest: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    updated_at: float
    expires_at: int


def _time(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


class WorkflowStep(BaseModel):
    """Sartiq's WorkflowStepPublic: a step's definition and where it is."""

    step_id: str
    task_type: TaskType
    config: dict[str, Any]
    dependencies: list[str]
    input_mappings: list[FieldMapping]
    max_retries: int
    timeout_seconds: int | None
    cache: bool
    on_failure: OnFailure
    status: StepStatus
    task_id: str | None = Field(description="The step's latest execution or training")
    task_ids: list[str]
    result: dict[str, Any] | None = Field(description="That job's outputs: output_dataset_ids, …")
    retry_count: int
    error_message: str | None
    cached_from: str | None = Field(description="The earlier step (workflow/step) whose outputs it reused")
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None

    @classmethod
    def from_record(cls, record: StepRecord) -> WorkflowStep:
        """Shape a stored step for clients."""
        definition = record.definition
        ended = record.started_at is not None and record.completed_at is not None
        return cls(
            step_id=record.step_id,
            task_type=definition.task_type,
            config=definition.config,
            dependencies=definition.depends_on,
            input_mappings=definition.input_mappings,
            max_retries=definition.max_retries,
            timeout_seconds=definition.timeout_seconds,
            cache=definition.cache,
            on_failure=definition.on_failure,
            status=record.status,
            task_id=record.task_id,
            task_ids=record.task_ids,
            result=record.result,
            retry_count=record.retry_count,
            error_message=record.error_message,
            cached_from=record.cached_from,
            started_at=_time(record.started_at),
            completed_at=_time(record.completed_at),
            duration_ms=int((record.completed_at - record.started_at) * 1000)  # type: ignore[operator]
            if ended
            else None,
        )


class WorkflowSummary(BaseModel):
    """Sartiq's WorkflowListItem: a workflow and its progress, without its steps."""

    id: str
    name: str
    description: str | None
    status: WorkflowStatus
    total_steps: int
    completed_steps: int
    progress: float = Field(description="completed_steps / total_steps, 0..1")
    final_step_ids: list[str] = Field(description="The steps nothing depends on")
    config: dict[str, Any]
    priority: int
    webhook_url: str | None
    webhook_events: list[WebhookEvent]
    origin_instance: str | None
    origin_zone: str | None
    origin_tenant_id: str | None
    origin_reference: str | None
    error_message: str | None
    errors: list[str]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    expires_at: datetime

    @classmethod
    def fields_of(cls, record: WorkflowRecord) -> dict[str, Any]:
        """The summary's fields of a stored workflow."""
        ended = record.started_at is not None and record.completed_at is not None
        return {
            "id": record.workflow_id,
            **record.model_dump(
                include={
                    "name",
                    "description",
                    "status",
                    "total_steps",
                    "completed_steps",
                    "final_step_ids",
                    "config",
                    "priority",
                    "webhook_url",
                    "webhook_events",
                    "origin_instance",
                    "origin_zone",
                    "origin_tenant_id",
                    "origin_reference",
                    "errors",
                }
            ),
            "progress": record.completed_steps / record.total_steps if record.total_steps else 0.0,
            "error_message": record.errors[-1] if record.errors else None,
            "created_at": datetime.fromtimestamp(record.created_at, UTC),
            "updated_at": datetime.fromtimestamp(record.updated_at, UTC),
            "started_at": _time(record.started_at),
            "completed_at": _time(record.completed_at),
            "duration_ms": int((record.completed_at - record.started_at) * 1000)  # type: ignore[operator]
            if ended
            else None,
            "expires_at": datetime.fromtimestamp(record.expires_at, UTC),
        }

    @classmethod
    def from_record(cls, record: WorkflowRecord) -> WorkflowSummary:
        """Shape a stored workflow for a list."""
        return cls(**cls.fields_of(record))


class Workflow(WorkflowSummary):
    """Sartiq's WorkflowPublic: the workflow, its progress and its steps (in definition order)."""

    current_steps: list[str] = Field(description="The steps running now")
    final_step_result: dict[str, Any] | None = Field(description="Their results once COMPLETED, by step")
    steps: list[WorkflowStep]

    @classmethod
    def from_records(cls, record: WorkflowRecord, steps: list[StepRecord]) -> Workflow:
        """Shape a stored workflow and its steps for clients."""
        by_id = {s.step_id: s for s in steps}
        finals = [by_id[i] for i in record.final_step_ids if i in by_id]
        completed = record.status is WorkflowStatus.COMPLETED
        return cls(
            **cls.fields_of(record),
            current_steps=[s.step_id for s in steps if s.status is StepStatus.RUNNING],
            final_step_result={s.step_id: s.result or {} for s in finals} if completed else None,
            steps=[WorkflowStep.from_record(s) for s in steps],
        )


class WorkflowPage(BaseModel):
    """One page of workflows, newest first (GET one for its steps)."""

    items: list[WorkflowSummary]
    next_cursor: str | None


class CleanupResult(BaseModel):
    """What cleanup deleted: the intermediate steps' output files (records stay)."""

    workflow: Workflow
    deleted_file_ids: list[str]
    errors: list[str] = Field(description="Files that could not be deleted, and why")
