"""Monitoring: a tenant's job queues, stats over a window, running jobs, and the service's health."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stratus.models.jobs import JobKind, JobStatus
from stratus.models.workflows import WorkflowStatus

# A job's queue is its plan's device kind: cuda jobs go to the GPU queue, the others to the CPU queue.
QueueName = Literal["gpu", "cpu"]
QUEUE_NAMES: tuple[QueueName, ...] = ("gpu", "cpu")
MoveDirection = Literal["up", "down", "top", "bottom"]
CheckStatus = Literal["ok", "failed"]


class QueuedJob(BaseModel):
    """A queued (PENDING) job at its place in its queue."""

    kind: JobKind
    job_id: str
    priority: int
    position: int = Field(description="1 runs next")
    created: datetime
    wait_seconds: float = Field(description="Seconds since the job was accepted")


class QueueStats(BaseModel):
    """One queue of the caller's jobs: its depth, how many run, the oldest wait and the queued jobs in
    the order they will take running slots."""

    name: QueueName
    depth: int = Field(description="Queued (PENDING) jobs")
    running: int = Field(description="Jobs STARTED or RUNNING on this queue")
    oldest_wait_seconds: float | None = Field(description="Seconds the oldest queued job has waited")
    jobs: list[QueuedJob]


class QueueStatsResponse(BaseModel):
    """The caller's queues."""

    queues: list[QueueStats]
    total_pending: int
    total_running: int
    timestamp: datetime


class QueueMove(BaseModel):
    """Move a queued job: `up` before the job ahead of it, `down` behind the job after it, `top` before
    every job of its queue, `bottom` behind every one (by changing its priority)."""

    model_config = ConfigDict(extra="forbid")

    direction: MoveDirection


class KindStats(BaseModel):
    """Stats of one job kind over the window."""

    kind: JobKind
    total: int
    by_status: dict[JobStatus, int]
    success_rate: float | None = Field(description="COMPLETED / ended, or null when none ended")
    mean_duration_seconds: float | None = Field(description="Of jobs that ran and completed or failed")
    p95_duration_seconds: float | None


class AggregateStats(BaseModel):
    """The caller's executions and trainings accepted in the window."""

    window_hours: int
    total_jobs: int
    by_status: dict[JobStatus, int]
    kinds: list[KindStats]
    success_rate: float | None
    jobs_last_hour: int
    jobs_last_24h: int
    truncated: bool = Field(description="More jobs were accepted than the stats read; they cover the newest")
    timestamp: datetime


class WorkflowAggregateStats(BaseModel):
    """Sartiq's WorkflowAggregateStats: the caller's workflows created in the window."""

    window_hours: int
    total_workflows: int
    by_status: dict[WorkflowStatus, int]
    success_rate: float | None = Field(description="COMPLETED / ended (COMPLETED, FAILED, CANCELLED)")
    mean_duration_seconds: float | None = Field(description="Of workflows that started and ended")
    p95_duration_seconds: float | None
    avg_steps_per_workflow: float
    workflows_last_hour: int
    workflows_last_24h: int
    truncated: bool = Field(description="More were created than the stats read; they cover the newest")
    timestamp: datetime


class RunningJob(BaseModel):
    """A job holding one of the tenant's running slots."""

    kind: JobKind
    job_id: str
    queue: QueueName
    status: JobStatus
    priority: int
    started: datetime | None
    running_seconds: float | None


class WorkerStats(BaseModel):
    """The caller's running jobs (locally worker processes, on AWS Batch jobs) and running slots."""

    jobs: list[RunningJob]
    running_slots_used: int
    max_running_jobs: int
    utilization_pct: float
    has_capacity: bool
    timestamp: datetime


class ComponentCheck(BaseModel):
    """One dependency's check."""

    status: CheckStatus
    detail: str


class Health(BaseModel):
    """The service is up; with `checks`, whether each component answers (`degraded` if one does not)."""

    status: Literal["ok", "degraded"]
    checks: dict[str, ComponentCheck] | None = None
