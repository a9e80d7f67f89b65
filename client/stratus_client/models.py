"""Typed views of the API's public answers; tolerant (`extra="allow"`), so fields a newer server adds
never break an older client, and they stay readable as attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Job statuses after which nothing changes.
FINAL_JOB_STATUSES = frozenset({"COMPLETED", "FAILED", "STOPPED"})
FINAL_WORKFLOW_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
FINAL_CAMPAIGN_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


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
    name: str | None = None
    # The format it was uploaded in: hdf5, or a table (csv, json, xlsx) the API stored converted to HDF5.
    source_format: str | None = None


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


class Kpi(ApiModel):
    """A key figure a job reported (report_kpi, or a numeric set_state entry)."""

    name: str
    value: float
    unit: str | None = None


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
    kpis: dict[str, Kpi] = Field(default_factory=dict)
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
    kpis: dict[str, Kpi] = Field(default_factory=dict)


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


class Workspace(ApiModel):
    """A named folder of scenarios; its id stays when it is renamed."""

    id: str
    display_name: str
    scenario_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


class WorkspaceList(ApiModel):
    """Every workspace, oldest first, and the default one's id."""

    workspaces: list[Workspace]
    default: str


class ScenarioState(ApiModel):
    """A scenario's status (CREATED, then its execution's) and progress: the light poll."""

    id: str
    tag: str
    status: str
    progress: float = 0.0

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES


class Scenario(ScenarioState):
    """Input data, an algorithm and parameter values saved under a tag; `result` once COMPLETED."""

    workspace_id: str
    algorithm_id: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    dataset_ids: list[str] = Field(default_factory=list)
    execution_id: str | None = None
    result: dict[str, Any] | None = None
    kpis: dict[str, Kpi] = Field(default_factory=dict)
    error: JobError | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ScenarioList(ApiModel):
    scenarios: list[Scenario]


class Trial(ApiModel):
    """One run of a campaign's algorithm (or workflow): its parameters (the fixed ones left out),
    status, execution (or workflow) and the KPIs it reported."""

    number: int
    status: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    kpis: dict[str, float] = Field(default_factory=dict)
    execution_id: str | None = None
    workflow_id: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class BestTrial(ApiModel):
    """The best trial so far (one objective), or the Pareto front's trials (several)."""

    trial: int | None = None
    parameters: dict[str, Any] | None = None
    kpis: dict[str, float] | None = None
    pareto_front: list[Trial] | None = None


class CampaignCounts(ApiModel):
    """How far a campaign is: trials planned, created, running (or pending), completed, failed."""

    planned: int = 0
    created: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0


class CampaignSummary(ApiModel):
    """A campaign without its trials (as lists show it)."""

    id: str
    status: str
    name: str | None = None
    kind: str = ""
    algorithm_id: str | None = None
    algorithm_minor_version: str | None = None
    input_dataset_ids: list[str] = Field(default_factory=list)
    workflow: dict[str, Any] | None = None
    spec: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    budget: int = 0
    batch_size: int = 1
    max_failures: int | None = None
    priority: int = 0
    warm_start_trials: int = 0
    errors: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_CAMPAIGN_STATUSES

    @property
    def error_message(self) -> str | None:
        """The campaign's errors as one line (what a failed wait reports)."""
        return "; ".join(self.errors) or None


class Campaign(CampaignSummary):
    """A campaign, its counts, its trials in order and the best so far."""

    counts: CampaignCounts = Field(default_factory=CampaignCounts)
    best: BestTrial | None = None
    trials: list[Trial] = Field(default_factory=list)

    @property
    def finished_trials(self) -> int:
        """Trials that ended (completed, failed or stopped)."""
        return self.counts.created - self.counts.running


class CampaignPage(ApiModel):
    items: list[CampaignSummary]
    next_cursor: str | None = None


class CampaignCreated(ApiModel):
    """What starting a campaign answers."""

    campaign_id: str
    status: str
    planned_trials: int = 0


class TrialPage(ApiModel):
    items: list[Trial]
