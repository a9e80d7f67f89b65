"""Campaigns: an algorithm (or a workflow template) run many times with different parameters (each run an
ordinary execution or workflow of the tenant) to map or optimise objectives (IvoryOS's campaigns and
configuration tables, seed 002), driven by one state machine (statemachines/campaign.asl.json)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stratus.campaigns import Objective, OptimizerSpec, ParameterSpec
from stratus.campaigns.space import DEFAULT_OPTIMIZER
from stratus.models.algorithms import AlgorithmRef
from stratus.models.ids import CampaignId, Distinct, FileId
from stratus.models.jobs import Priority
from stratus.models.records import TenantRecord
from stratus.models.workflows import MAX_STEPS, WorkflowStepDefinition

MAX_BUDGET = 1000
MAX_BATCH_SIZE = 40  # an inline Map runs at most 40 child runs at once on AWS
DEFAULT_MAX_FAILURES = 5
# A configuration table or a history as CSV text (rows_csv, existing_data.csv): its own size limit, far
# under API Gateway's 10 MB, so one campaign record stays under DynamoDB's 400 KB.
MAX_CSV_CHARS = 256 * 1024


class CampaignStatus(StrEnum):
    """A campaign's status: COMPLETED, FAILED and CANCELLED are final; PAUSED resumes."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# The allowed status changes, source → targets (the API's and the runner's); the rest is a 409.
CAMPAIGN_TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.RUNNING: frozenset(
        {CampaignStatus.PAUSED, CampaignStatus.COMPLETED, CampaignStatus.FAILED, CampaignStatus.CANCELLED}
    ),
    # FAILED from PAUSED: the runner itself failed (mark_campaign_failed) while it was paused.
    CampaignStatus.PAUSED: frozenset(
        {CampaignStatus.RUNNING, CampaignStatus.CANCELLED, CampaignStatus.FAILED}
    ),
    CampaignStatus.COMPLETED: frozenset(),
    CampaignStatus.FAILED: frozenset(),
    CampaignStatus.CANCELLED: frozenset(),
}
FINAL_CAMPAIGN_STATUSES = frozenset(s for s, targets in CAMPAIGN_TRANSITIONS.items() if not targets)


class TrialStatus(StrEnum):
    """A trial's status: PENDING (numbered, its execution not yet launched), RUNNING, COMPLETED, FAILED,
    STOPPED (the campaign was cancelled or failed while it ran)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


FINAL_TRIAL_STATUSES = frozenset({TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.STOPPED})


class ExistingData(BaseModel):
    """A warm start: an earlier campaign of the tenant, or a history CSV (GET …/history.csv's shape)."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: CampaignId | None = None
    csv: str | None = Field(default=None, min_length=1, max_length=MAX_CSV_CHARS)

    @model_validator(mode="after")
    def _one_source(self) -> ExistingData:
        if (self.campaign_id is None) == (self.csv is None):
            raise ValueError("give existing_data.campaign_id or existing_data.csv, not both")
        return self


class WorkflowTemplate(BaseModel):
    """The workflow a campaign runs once per trial (POST /workflows' body without its webhooks): each
    trial's workflow is this one with the trial's values set as `<step id>.<parameter>` names them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Each trial's workflow: `<name> #<trial>`")
    description: str | None = Field(default=None, max_length=1000)
    steps: list[WorkflowStepDefinition] = Field(min_length=1, max_length=MAX_STEPS)
    config: dict[str, Any] = Field(default_factory=dict)


class CampaignCreate(AlgorithmRef):
    """Run an algorithm over parameter sets: a grid or random sweep, a configuration table (`rows` or
    `rows_csv`), or Bayesian optimisation of objectives (KPIs the algorithm reports). Or run a workflow
    template instead (`workflow`): parameters and objectives are then `<step id>.<name>`."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    input_dataset_ids: Annotated[list[FileId], Distinct] = Field(
        default_factory=list, max_length=100, description="The algorithm's inputs (not with `workflow`)"
    )
    workflow: WorkflowTemplate | None = Field(
        default=None, description="Run this workflow per trial instead of one algorithm"
    )
    kind: Literal["grid", "random", "table", "bayesian"]
    search_space: dict[str, ParameterSpec] = Field(default_factory=dict, max_length=32)
    rows: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_BUDGET)
    rows_csv: str | None = Field(
        default=None, min_length=1, max_length=MAX_CSV_CHARS, description="kind table: the rows as CSV"
    )
    objectives: list[Objective] = Field(min_length=1, max_length=3)
    optimizer: str = Field(
        default=DEFAULT_OPTIMIZER, max_length=32, description="kind bayesian: a name from …/optimizers"
    )
    optimizer_options: dict[str, Any] = Field(default_factory=dict)
    budget: int = Field(ge=1, le=MAX_BUDGET, description="Trials to run (grid, table: at most their size)")
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Fixed values of the algorithm's other parameters, every trial"
    )
    batch_size: int = Field(default=1, ge=1, le=MAX_BATCH_SIZE, description="Trials run in parallel")
    max_failures: int | None = Field(
        default=DEFAULT_MAX_FAILURES,
        ge=0,
        le=MAX_BUDGET,
        description="The campaign ends FAILED once more trials than this failed; null: never",
    )
    existing_data: ExistingData | None = Field(default=None, description="Warm start of the optimizer")
    priority: Priority = 0

    @model_validator(mode="after")
    def _rows_once(self) -> CampaignCreate:
        if self.rows and self.rows_csv is not None:
            raise ValueError("give rows or rows_csv, not both")
        return self

    @model_validator(mode="after")
    def _named_once(self) -> CampaignCreate:  # replaces AlgorithmRef's: a workflow names no algorithm
        if self.workflow is None:
            if self.algorithm_id is None and self.algorithm_name is None:
                raise ValueError("give algorithm_id, or algorithm_name + major version, or a workflow")
            self.check_named()
            if not self.input_dataset_ids:
                raise ValueError("input_dataset_ids: give the algorithm's inputs (at least one)")
            return self
        named = self.algorithm_id, self.algorithm_name, self.algorithm_major_version
        if any(v is not None for v in named) or self.input_dataset_ids or self.parameters:
            raise ValueError(
                "a workflow campaign takes its algorithms, inputs and fixed parameters from the workflow's "
                "steps: leave out algorithm_*, input_dataset_ids and parameters"
            )
        return self


class CampaignRecord(TenantRecord):
    """A campaign as stored (internal); its trials are items of their own (TrialRecord)."""

    campaign_id: str
    name: str | None = None
    # An algorithm campaign's; None for a workflow campaign. Pinned at create, as a job's plan pins it:
    # every trial runs the same version.
    algorithm_id: str | None = None
    algorithm_minor: int | None = None
    input_dataset_ids: list[str] = Field(default_factory=list)
    workflow: WorkflowTemplate | None = None
    spec: OptimizerSpec
    parameters: dict[str, Any] = Field(default_factory=dict)
    batch_size: int
    max_failures: int | None = None  # None: never (dropped from the item, as every None)
    priority: int = 0
    # existing_data, read once at create (a campaign or a CSV given then): the optimizer's prior.
    warm_start: list[dict[str, Any]] = Field(default_factory=list)
    planned_trials: int
    status: CampaignStatus = CampaignStatus.RUNNING
    trial_count: int = 0
    completed_trials: int = 0
    failed_trials: int = 0
    has_plot: bool = False
    errors: list[str] = Field(default_factory=list)
    # The state machine run that drives it (runs are named <id>-<n>) and whether that run still goes on:
    # only that run adds trials, so a resumed campaign's new run and a late old one never both drive it.
    runner: str | None = None
    runner_active: bool = False
    run_count: int = 0
    completed_at: float | None = None
    updated_at: float
    expires_at: int


class TrialRecord(BaseModel):
    """One trial of a campaign as stored (internal): its parameters and, once its execution ended, the
    KPIs it reported."""

    campaign_id: str
    tenant: str
    number: int = Field(ge=1)
    status: TrialStatus = TrialStatus.PENDING
    parameters: dict[str, Any]
    kpis: dict[str, float] = Field(default_factory=dict)
    execution_id: str | None = None
    workflow_id: str | None = None
    error: str | None = None
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    updated_at: float
    expires_at: int


def _time(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


class Trial(BaseModel):
    """One run of the campaign's algorithm: its parameters (the fixed ones left out), status, execution
    and KPIs."""

    number: int = Field(description="1, 2, … in the order the campaign asked for them")
    status: TrialStatus
    parameters: dict[str, Any]
    kpis: dict[str, float] = Field(
        description="Every KPI its execution reported, by name (a workflow's: `<step id>.<KPI>`)"
    )
    execution_id: str | None
    workflow_id: str | None = Field(description="A workflow campaign's: the trial's workflow")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_record(cls, record: TrialRecord) -> Trial:
        """Shape a stored trial for clients."""
        return cls(
            **record.model_dump(
                include={"number", "status", "parameters", "kpis", "execution_id", "workflow_id", "error"}
            ),
            created_at=datetime.fromtimestamp(record.created_at, UTC),
            started_at=_time(record.started_at),
            ended_at=_time(record.ended_at),
        )


class BestTrial(BaseModel):
    """The best trial so far (one objective), or the Pareto front's trials (several)."""

    trial: int | None = Field(default=None, description="One objective: the best trial's number")
    parameters: dict[str, Any] | None = None
    kpis: dict[str, float] | None = None
    pareto_front: list[Trial] | None = Field(default=None, description="Several objectives: the front")


class CampaignCounts(BaseModel):
    """How far the campaign is."""

    planned: int = Field(description="Trials it runs in all (the budget, or the grid's or table's size)")
    created: int
    running: int
    completed: int
    failed: int


class CampaignSummary(BaseModel):
    """A campaign without its trials (GET one for them)."""

    id: str
    name: str | None
    status: CampaignStatus
    kind: str
    algorithm_id: str | None = Field(description="None for a workflow campaign")
    algorithm_minor_version: str | None
    input_dataset_ids: list[str]
    workflow: WorkflowTemplate | None = Field(description="The workflow each trial runs, if it is one")
    spec: OptimizerSpec = Field(description="The search as checked: ints where the algorithm takes ints")
    parameters: dict[str, Any]
    budget: int
    batch_size: int
    max_failures: int | None
    priority: int
    warm_start_trials: int = Field(description="Earlier results the optimizer started from")
    has_plot: bool = Field(description="Whether GET …/plot has a PNG (once a trial has a result)")
    errors: list[str]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    expires_at: datetime

    @classmethod
    def fields_of(cls, record: CampaignRecord) -> dict[str, Any]:
        """The summary's fields of a stored campaign."""
        return {
            "id": record.campaign_id,
            **record.model_dump(
                include={
                    "name",
                    "status",
                    "algorithm_id",
                    "input_dataset_ids",
                    "workflow",
                    "spec",
                    "parameters",
                    "batch_size",
                    "max_failures",
                    "priority",
                    "errors",
                    "has_plot",
                }
            ),
            "kind": record.spec.kind,
            "algorithm_minor_version": None
            if record.algorithm_minor is None
            else str(record.algorithm_minor),
            "budget": record.planned_trials,
            "warm_start_trials": len(record.warm_start),
            "created_at": datetime.fromtimestamp(record.created_at, UTC),
            "updated_at": datetime.fromtimestamp(record.updated_at, UTC),
            "completed_at": _time(record.completed_at),
            "expires_at": datetime.fromtimestamp(record.expires_at, UTC),
        }

    @classmethod
    def from_record(cls, record: CampaignRecord) -> CampaignSummary:
        """Shape a stored campaign for a list (counts as of its last round)."""
        return cls(**cls.fields_of(record))


class Campaign(CampaignSummary):
    """A campaign, its trials (in order) and the best so far."""

    counts: CampaignCounts
    best: BestTrial | None = Field(description="None until a trial completed")
    trials: list[Trial]


class CampaignPage(BaseModel):
    """One page of campaigns, newest first."""

    items: list[CampaignSummary]
    next_cursor: str | None


class CampaignCreated(BaseModel):
    """The create's answer."""

    campaign_id: str
    status: CampaignStatus
    planned_trials: int


class TrialPage(BaseModel):
    """A campaign's trials, in order."""

    items: list[Trial]
