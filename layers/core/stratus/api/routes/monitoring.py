"""Monitoring API: the caller's queues (and moving a queued job), stats, and running jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from stratus.api.deps import CallerDep, StoresDep
from stratus.models.ids import ExecutionId
from stratus.models.monitoring import (
    AggregateStats,
    QueueMove,
    QueueName,
    QueueStats,
    QueueStatsResponse,
    WorkerStats,
    WorkflowAggregateStats,
)
from stratus.services import monitoring

router = APIRouter(prefix="/monitoring", tags=["monitoring"])

# Executions and trainings share one id shape (a UUID), so a queue's job path takes either.
JobIdPath = Annotated[ExecutionId, Path(description="An execution's or a training's id")]
WindowQuery = Annotated[int, Query(ge=1, le=24 * 30, description="Hours back from now")]


@router.get("/queues", summary="The caller's job queues")
def list_queues(caller: CallerDep, stores: StoresDep) -> QueueStatsResponse:
    """Per queue (gpu, cpu): queued (PENDING) depth, running jobs, the oldest wait, and the queued jobs in
    the order they will take the tenant's running slots (higher priority first, then older)."""
    return monitoring.queues(caller.tenant, stores)


@router.post(
    "/queues/{queue}/jobs/{job_id}/move",
    summary="Move a queued job up, down, to the top or to the bottom of its queue",
    responses={
        404: {"description": "Unknown job, another tenant's, or not in this queue"},
        409: {"description": "The job is not queued (PENDING), or its priority would leave -100..100"},
    },
)
def move_job(
    queue: QueueName, job_id: JobIdPath, body: QueueMove, caller: CallerDep, stores: StoresDep
) -> QueueStats:
    """Change the job's priority so it passes its neighbour (see the docs); returns the queue."""
    return monitoring.move(caller.tenant, queue, job_id, body.direction, stores)


@router.get("/stats", summary="Counts, success rate and durations of the caller's jobs")
def job_stats(caller: CallerDep, stores: StoresDep, window_hours: WindowQuery = 24) -> AggregateStats:
    """Executions and trainings accepted in the last `window_hours`: by kind and status, success rate
    (COMPLETED / ended), mean and p95 run durations; and jobs accepted in the last hour and day."""
    return monitoring.stats(caller.tenant, window_hours, stores)


@router.get("/workflows/stats", summary="Counts, success rate and durations of the caller's workflows")
def workflow_stats(
    caller: CallerDep, stores: StoresDep, window_hours: WindowQuery = 24
) -> WorkflowAggregateStats:
    """Workflows created in the last `window_hours`: by status, success rate (COMPLETED / ended), mean
    and p95 durations, mean steps; and workflows created in the last hour and day."""
    return monitoring.workflow_stats(caller.tenant, window_hours, stores)


@router.get("/workers", summary="The caller's running jobs and running slots")
def running_jobs(caller: CallerDep, stores: StoresDep) -> WorkerStats:
    """Jobs STARTED or RUNNING (locally worker processes, on AWS Batch jobs), and slots used of the
    tenant's max_running_jobs."""
    return monitoring.workers(caller.tenant, stores)
