"""Jobs: what executions and trainings share (statuses, plan, error, log, progress, KPIs, stop)."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stratus.clock import utc_iso
from stratus.models.records import TenantRecord, sources_in
from stratus.models.webhooks import WebhookEvent


class JobStatus(StrEnum):
    """Compox's task statuses; COMPLETED, FAILED and STOPPED are final."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


# The allowed status changes, source → targets; everything else is an IllegalTransitionError.
# COMPLETED only from RUNNING: the runtime marks RUNNING as it enters the first hook (as Compox does).
JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.STARTED, JobStatus.FAILED, JobStatus.STOPPED}),
    JobStatus.STARTED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.STOPPED}),
    JobStatus.RUNNING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.STOPPED: frozenset(),
}
# Progress is recorded only while the algorithm may still be working.
ACTIVE_STATUSES = frozenset({JobStatus.STARTED, JobStatus.RUNNING})
# Everything but the final statuses: a job's record may still change.
LIVE_STATUSES = frozenset(s for s, targets in JOB_TRANSITIONS.items() if targets)
JobKind = Literal["execution", "training"]
# A job's priority: higher runs first among its tenant's queued jobs (then the oldest first).
MIN_PRIORITY, MAX_PRIORITY = -100, 100
# AWS Batch's schedulingPriorityOverride range (fair-share queues): higher is scheduled first.
MAX_BATCH_PRIORITY = 9999
# Batch fair-share identifiers are at most 255 alphanumeric characters.
SHARE_IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z0-9]{1,255}$")
# A KPI's name: like a label (letters, digits, _ . / -), so it can name a campaign objective or a column.
KPI_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,63}$"
MAX_KPI_UNIT_LENGTH = 32
# KPIs one job may report: bounds the record's size (DynamoDB items are at most 400 KB).
MAX_KPIS = 64
# DynamoDB numbers: magnitudes from 1e-130 up to below 1e126
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html).
MAX_KPI_MAGNITUDE = 1e125
MIN_KPI_MAGNITUDE = 1e-125
Priority = Annotated[
    int,
    Field(ge=MIN_PRIORITY, le=MAX_PRIORITY, description="Higher first among the tenant's queued jobs"),
]


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """Statuses from which ``target`` may be reached."""
    return sources_in(JOB_TRANSITIONS, target)


def is_terminal(status: JobStatus) -> bool:
    """Whether no status change can follow ``status``."""
    return not JOB_TRANSITIONS[status]


class JobError(BaseModel):
    """Why a job failed, for clients that branch on it (the traceback is in the log)."""

    type: str = Field(description="The exception's class name, e.g. RuntimeError or NotFoundError")
    message: str


class Kpi(BaseModel):
    """A key figure a job reported (report_kpi, or a numeric set_state entry): seed 004's KPI shape."""

    name: str = Field(pattern=KPI_NAME_PATTERN, description="Unique within the job; what objectives name")
    value: float = Field(allow_inf_nan=False, description="A finite number")
    unit: str | None = Field(default=None, max_length=MAX_KPI_UNIT_LENGTH)

    @field_validator("value")
    @classmethod
    def _storable(cls, value: float) -> float:
        if abs(value) >= MAX_KPI_MAGNITUDE:
            raise ValueError(f"magnitude must be below {MAX_KPI_MAGNITUDE:g}")
        # Too small for the table: as a float underflows, it becomes zero.
        return 0.0 if abs(value) < MIN_KPI_MAGNITUDE else value


class DevicePlan(BaseModel):
    """Where a job runs, decided once at accept time (stratus.devices)."""

    kind: Literal["cpu", "cuda"] = Field(description="cuda: the GPU queue; the worker uses the card")
    index: int | None = Field(default=None, description="The card asked for with cuda:N")


class JobPlan(BaseModel):
    """Everything statically decidable about a job, resolved when it was accepted; nobody decides again."""

    algorithm_id: str
    algorithm_owner: str = Field(
        description="Who owns the version: a tenant's own is held by the job until it ends, a built-in never"
    )
    algorithm_name: str
    algorithm_major: int
    algorithm_minor: int
    code_key: str = Field(description="S3 key of the pinned version's code")
    environment: str | None = Field(
        default=None, description="Digest of the version's environment (its declared dependencies), if any"
    )
    assets: dict[str, str] = Field(description="Asset path → sha256: the version's, or the checkpoint's")
    checkpoint_id: str | None = None
    parameters: dict[str, Any] = Field(description="The parameters used, defaults filled in")
    device: DevicePlan


class JobRecord(TenantRecord):
    """The fields every job record has (internal); times are epoch seconds."""

    algorithm_id: str
    algorithm_minor_version: str | None = None
    checkpoint_id: str | None = None
    additional_parameters: dict[str, Any] = Field(default_factory=dict)
    plan: JobPlan
    status: JobStatus = JobStatus.PENDING
    progress: float = 0.0
    time_started: float | None = None
    time_running: float | None = None
    time_completed: float | None = None
    # The last lines only; the whole log is items of its own (stores.logs), `log_lines` of them.
    log: str = ""
    log_lines: int = 0
    # Bumped by every write that changes `log`, so read-modify-write appends detect a concurrent append.
    log_version: int = 0
    error: JobError | None = None
    # Name → the last value reported under it (models.jobs.Kpi); written by the worker, throttled.
    kpis: dict[str, Kpi] = Field(default_factory=dict)
    stop_requested_at: float | None = None
    # Where the job's events go (models.webhooks), as accepted; None: nowhere.
    webhook_url: str | None = None
    webhook_events: list[WebhookEvent] = Field(default_factory=list)
    priority: int = 0
    expires_at: int


class JobUpdate(BaseModel):
    """A change to a queued (PENDING) job: its priority."""

    model_config = ConfigDict(extra="forbid")

    priority: Priority


class BatchScheduling(BaseModel):
    """What a job's Batch submit passes to the fair-share queue: the tenant's share and the priority."""

    share: str = Field(description="The Batch share identifier of the job's tenant")
    priority: int = Field(ge=0, le=MAX_BATCH_PRIORITY, description="schedulingPriorityOverride")

    @classmethod
    def of(cls, record: JobRecord) -> BatchScheduling:
        """The scheduling of a job: its tenant's share, its priority mapped onto Batch's 0..9999."""
        span = MAX_PRIORITY - MIN_PRIORITY
        return cls(
            share=share_identifier(record.tenant),
            priority=round((record.priority - MIN_PRIORITY) * MAX_BATCH_PRIORITY / span),
        )


def share_identifier(tenant: str) -> str:
    """A tenant's Batch fair-share identifier: the tenant itself when Batch allows it (alphanumeric), else
    a digest of it, so every tenant gets a share of its own."""
    if SHARE_IDENTIFIER_PATTERN.match(tenant):
        return tenant
    return "t" + hashlib.sha256(tenant.encode()).hexdigest()[:40]


class TaskFailure(BaseModel):
    """What a Catch put at ``$.error``: Step Functions' error name and cause."""

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")


class JobStopped(BaseModel):
    """The answer to a stop request."""

    detail: str


class LogLine(BaseModel):
    """One line of a job's log, numbered from 0."""

    line: int
    text: str


class LogPage(BaseModel):
    """Lines of a job's log from a line number; ask again from ``next_line`` to follow it."""

    lines: list[LogLine]
    next_line: int = Field(description="The line number to ask for next (equal to the count so far)")


class StrictTask(BaseModel):
    """Base of the state machines' task inputs: ids only, nothing unknown."""

    model_config = ConfigDict(extra="forbid")


def iso(timestamp: float | None) -> str:
    """ISO 8601 in UTC with `Z` for a timestamp (as every datetime the API answers), or empty before it
    happened (as Compox)."""
    if timestamp is None:
        return ""
    return utc_iso(timestamp)
