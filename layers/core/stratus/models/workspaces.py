"""Workspaces and their scenarios (seed 004's sessions): named folders of saved runs, each scenario a
dataset, an algorithm and parameter values, run on demand as an ordinary execution."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from stratus.models.algorithms import AlgorithmRef
from stratus.models.ids import UUID4_PATTERN, Distinct
from stratus.models.jobs import JobError, JobStatus, Kpi
from stratus.models.records import TenantRecord

# The workspace a tenant gets on first use, and again when it deletes its last one (seed 004).
DEFAULT_WORKSPACE_NAME = "main"
# A workspace's scenarios are copied in one request: the bound keeps a copy well inside API Gateway's 30 s.
MAX_SCENARIOS = 1000
# An execution reads at most this many input files (ExecutionCreate's bound).
MAX_DATASETS = 1000
DatasetId = Annotated[
    str,
    Field(pattern=UUID4_PATTERN, description="A file id, or a sample id (standing for its files)"),
]


def _named(value: str) -> str:
    # Names and tags are what people tell records apart by: blank or padded ones only confuse.
    if value != value.strip() or not value:
        raise ValueError("must be non-empty, without leading or trailing spaces")
    return value


DisplayName = Annotated[
    str,
    Field(min_length=1, max_length=100, description="Unique among the tenant's workspaces"),
    AfterValidator(_named),
]
Tag = Annotated[
    str,
    Field(min_length=1, max_length=100, description="Unique within the workspace"),
    AfterValidator(_named),
]


class WorkspaceCreate(BaseModel):
    """A new, empty workspace (or the name of a copy)."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName


WorkspaceUpdate = WorkspaceCreate


class WorkspaceRecord(TenantRecord):
    """A workspace as stored (internal); its scenarios are items under its partition."""

    workspace_id: str
    display_name: str
    scenario_count: int = 0
    updated_at: float


class Workspace(BaseModel):
    """Seed 004's session: a stable id and a display name that may change."""

    id: str
    display_name: str
    scenario_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: WorkspaceRecord) -> Workspace:
        """Shape a stored workspace for clients."""
        return cls(
            id=record.workspace_id,
            display_name=record.display_name,
            scenario_count=record.scenario_count,
            created_at=datetime.fromtimestamp(record.created_at, UTC),
            updated_at=datetime.fromtimestamp(record.updated_at, UTC),
        )


class WorkspaceList(BaseModel):
    """Seed 004's session list: every workspace, oldest first, and the default one's id."""

    workspaces: list[Workspace]
    default: str = Field(description="The oldest workspace's id (the auto-created `main`, at first)")


class ScenarioStatus(StrEnum):
    """CREATED until run; then its execution's own status (JobStatus), so a scenario and its execution
    never disagree. Seed 004's QUEUED is PENDING or STARTED, PROCESSING is RUNNING, COMPLETE is COMPLETED;
    FAILED is FAILED, and STOPPED (the execution was stopped) is ours."""

    CREATED = "CREATED"
    PENDING = JobStatus.PENDING.value
    STARTED = JobStatus.STARTED.value
    RUNNING = JobStatus.RUNNING.value
    COMPLETED = JobStatus.COMPLETED.value
    FAILED = JobStatus.FAILED.value
    STOPPED = JobStatus.STOPPED.value


class ScenarioCreate(AlgorithmRef):
    """Seed 004's scenario: a tag, input data (file or sample ids), an algorithm and parameter values
    (checked against the algorithm's schema now, defaults filled in when it runs)."""

    model_config = ConfigDict(extra="forbid")

    tag: Tag
    dataset_ids: Annotated[list[DatasetId], Distinct] = Field(min_length=1, max_length=MAX_DATASETS)
    parameters: dict[str, Any] = Field(default_factory=dict, description="The algorithm's parameters")


class DatasetRef(BaseModel):
    """One of a scenario's datasets, with what it was found to be at create."""

    kind: Literal["file", "sample"]
    id: str


class ScenarioOutcome(BaseModel):
    """Where a scenario's execution is; once it is final, kept on the scenario too (executions expire, a
    scenario's result should not)."""

    status: JobStatus
    progress: float
    output_dataset_ids: list[str] = Field(default_factory=list)
    kpis: dict[str, Kpi] = Field(default_factory=dict)
    error: JobError | None = None


class ScenarioRecord(TenantRecord):
    """A scenario as stored (internal): CREATED while ``execution_id`` is None."""

    workspace_id: str
    scenario_id: str
    tag: str
    algorithm_id: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    datasets: list[DatasetRef]
    execution_id: str | None = None
    # Counts runs: the idempotency key of run n, so two racing runs start one execution.
    run_count: int = 0
    outcome: ScenarioOutcome | None = None
    updated_at: float


class ScenarioResult(BaseModel):
    """What a COMPLETED scenario produced."""

    output_dataset_ids: list[str]


class ScenarioState(BaseModel):
    """The lightweight poll: seed 004's `/status`."""

    id: str
    tag: str
    status: ScenarioStatus
    progress: float = Field(description="0..1")

    @classmethod
    def of(cls, record: ScenarioRecord, state: ScenarioOutcome | None) -> ScenarioState:
        """A scenario's status and progress (``state``: its run's, None while CREATED)."""
        return cls(
            id=record.scenario_id,
            tag=record.tag,
            status=ScenarioStatus.CREATED if state is None else ScenarioStatus(state.status.value),
            progress=0.0 if state is None else state.progress,
        )


class Scenario(ScenarioState):
    """A scenario, its execution's status and, once COMPLETED, its result and KPIs."""

    workspace_id: str
    algorithm_id: str
    parameters: dict[str, Any]
    dataset_ids: list[str]
    execution_id: str | None = Field(description="The current run's execution (an ordinary one)")
    result: ScenarioResult | None = Field(description="Set once COMPLETED, null before and after a reset")
    kpis: dict[str, Kpi] = Field(description="The execution's KPIs, by name")
    error: JobError | None = Field(description="Why it FAILED (or was STOPPED)")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: ScenarioRecord, state: ScenarioOutcome | None) -> Scenario:
        """Shape a stored scenario with its run's state (None while CREATED) for clients."""
        completed = state if state is not None and state.status is JobStatus.COMPLETED else None
        return cls(
            **ScenarioState.of(record, state).model_dump(),
            workspace_id=record.workspace_id,
            algorithm_id=record.algorithm_id,
            parameters=record.parameters,
            dataset_ids=[d.id for d in record.datasets],
            execution_id=record.execution_id,
            result=ScenarioResult(output_dataset_ids=completed.output_dataset_ids) if completed else None,
            kpis={} if state is None else state.kpis,
            error=None if state is None else state.error,
            created_at=datetime.fromtimestamp(record.created_at, UTC),
            updated_at=datetime.fromtimestamp(record.updated_at, UTC),
        )


class ScenarioList(BaseModel):
    """Every scenario of a workspace, in creation order."""

    scenarios: list[Scenario]
