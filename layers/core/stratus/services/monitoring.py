"""Monitoring use cases: a tenant's queues (and moving a queued job), stats over a window, running jobs,
and the service's health. Read from records (one quota item and batched reads, or a key range of the
listing index), never a Scan."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from stratus.errors import ConflictError, IllegalTransitionError, NotFoundError
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.jobs import ACTIVE_STATUSES, MAX_PRIORITY, MIN_PRIORITY, JobStatus, is_terminal
from stratus.models.monitoring import (
    QUEUE_NAMES,
    AggregateStats,
    ComponentCheck,
    Health,
    KindStats,
    QueuedJob,
    QueueStats,
    QueueStatsResponse,
    RunningJob,
    WorkerStats,
    WorkflowAggregateStats,
)
from stratus.models.workflows import WorkflowStatus
from stratus.services import holds, jobs
from stratus.stores.quotas import waiting_order

if TYPE_CHECKING:
    from collections.abc import Iterable

    from stratus.models.jobs import JobKind, JobRecord
    from stratus.models.monitoring import MoveDirection, QueueName
    from stratus.stores import Stores
    from stratus.stores.jobs import JobStore

# Stats read at most this many jobs of each kind (the newest); more is flagged `truncated`.
MAX_STATS_JOBS = 10_000
HOUR_S = 3600
DAY_S = 24 * HOUR_S
P95 = 0.95
# A workflow has ended for the stats once nothing will run in it without a resume or retry.
ENDED_WORKFLOWS = frozenset({WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED})


@dataclass(frozen=True)
class LiveJob:
    """A job accepted and not ended, with its kind and queue."""

    kind: JobKind
    record: JobRecord

    @property
    def job_id(self) -> str:
        """The job's id."""
        return str(getattr(self.record, f"{self.kind}_id"))

    @property
    def queue(self) -> QueueName:
        """The queue its plan chose."""
        return queue_of(self.record)

    @property
    def order(self) -> tuple[str, str]:
        """Its place in the tenant's queue: the order the running slots are granted in."""
        holder = holds.holder_of(self.kind, self.job_id)
        return waiting_order(self.record.priority, self.record.created_at), holder


def queue_of(record: JobRecord) -> QueueName:
    """The queue of a job: its plan's device kind (cuda → gpu)."""
    return "gpu" if record.plan.device.kind == "cuda" else "cpu"


def queues(tenant: str, stores: Stores) -> QueueStatsResponse:
    """The tenant's queues: depth, running, oldest wait and the queued jobs in slot order."""
    now = stores.clock()
    live = _live_jobs(tenant, stores)
    views = [_queue(name, live, now) for name in QUEUE_NAMES]
    return QueueStatsResponse(
        queues=views,
        total_pending=sum(v.depth for v in views),
        total_running=sum(v.running for v in views),
        timestamp=_time(now),
    )


def move(tenant: str, queue: QueueName, job_id: str, direction: MoveDirection, stores: Stores) -> QueueStats:
    """Move a queued job in its queue by changing its priority (IvoryOS's reorder): `up` takes one more
    than the priority of the job ahead of it, so it passes that job (and any job of that priority ahead
    only by age); `down` one less than the job behind it; `top` one more than the first job's; `bottom`
    one less than the last one's. A job already first (last) stays where it is. Returns the queue.

    Raises NotFoundError (unknown job, another tenant's, or of the other queue), IllegalTransitionError
    (the job is not queued), ConflictError (the priority would leave -100..100).
    """
    waiting = _queue(queue, _live_jobs(tenant, stores), stores.clock()).jobs
    place = next((i for i, job in enumerate(waiting) if job.job_id == job_id), None)
    if place is None:
        raise _not_queued(tenant, queue, job_id, stores)
    neighbour = {"up": place - 1, "down": place + 1, "top": 0, "bottom": len(waiting) - 1}[direction]
    if neighbour == place or not 0 <= neighbour < len(waiting):
        return _queue(queue, _live_jobs(tenant, stores), stores.clock())
    step = 1 if neighbour < place else -1
    priority = waiting[neighbour].priority + step
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise ConflictError(
            f"moving {job_id} {direction} takes priority {priority}, outside {MIN_PRIORITY}..{MAX_PRIORITY}"
        )
    job = waiting[place]
    jobs.set_priority(job_id, tenant, priority, _store(job.kind, stores), stores)
    return _queue(queue, _live_jobs(tenant, stores), stores.clock())


def stats(tenant: str, window_hours: int, stores: Stores) -> AggregateStats:
    """Counts by kind and status, success rate and durations of the tenant's jobs accepted in the window,
    and how many were accepted in the last hour and day."""
    now = stores.clock()
    since = now - window_hours * HOUR_S
    kinds: list[KindStats] = []
    windowed: list[JobRecord] = []
    last_hour = last_day = 0
    truncated = False
    for kind in ("execution", "training"):
        # One key range read covers the window and the last day.
        records, more = _store(kind, stores).list_since(tenant, min(since, now - DAY_S), MAX_STATS_JOBS)
        truncated = truncated or more
        last_hour += sum(1 for r in records if r.created_at >= now - HOUR_S)
        last_day += sum(1 for r in records if r.created_at >= now - DAY_S)
        in_window = [r for r in records if r.created_at >= since]
        windowed.extend(in_window)
        kinds.append(_kind_stats(kind, in_window))
    return AggregateStats(
        window_hours=window_hours,
        total_jobs=len(windowed),
        by_status=_by_status(windowed),
        kinds=kinds,
        success_rate=_success_rate(windowed),
        jobs_last_hour=last_hour,
        jobs_last_24h=last_day,
        truncated=truncated,
        timestamp=_time(now),
    )


def workflow_stats(tenant: str, window_hours: int, stores: Stores) -> WorkflowAggregateStats:
    """Counts by status, success rate, durations and mean size of the tenant's workflows created in the
    window, and how many were created in the last hour and day (one key range read of the listing)."""
    now = stores.clock()
    since = now - window_hours * HOUR_S
    records, truncated = stores.workflows.list_since(tenant, min(since, now - DAY_S), MAX_STATS_JOBS)
    in_window = [r for r in records if r.created_at >= since]
    ended = [r for r in in_window if r.status in ENDED_WORKFLOWS]
    durations = sorted(
        r.completed_at - r.started_at
        for r in ended
        if r.started_at is not None and r.completed_at is not None
    )
    completed = sum(1 for r in ended if r.status is WorkflowStatus.COMPLETED)
    return WorkflowAggregateStats(
        window_hours=window_hours,
        total_workflows=len(in_window),
        by_status={status: sum(1 for r in in_window if r.status is status) for status in WorkflowStatus},
        success_rate=round(completed / len(ended), 4) if ended else None,
        mean_duration_seconds=round(statistics.fmean(durations), 3) if durations else None,
        p95_duration_seconds=_p95(durations),
        avg_steps_per_workflow=statistics.fmean(r.total_steps for r in in_window) if in_window else 0.0,
        workflows_last_hour=sum(1 for r in records if r.created_at >= now - HOUR_S),
        workflows_last_24h=sum(1 for r in records if r.created_at >= now - DAY_S),
        truncated=truncated,
        timestamp=_time(now),
    )


def workers(tenant: str, stores: Stores) -> WorkerStats:
    """The tenant's running jobs (STARTED or RUNNING) and its running slots."""
    now = stores.clock()
    running = [job for job in _live_jobs(tenant, stores) if job.record.status in ACTIVE_STATUSES]
    used = len(stores.quotas.usage(tenant).running)
    limit = stores.quotas.max_running
    return WorkerStats(
        jobs=[_running_job(job, now) for job in sorted(running, key=lambda j: j.record.created_at)],
        running_slots_used=used,
        max_running_jobs=limit,
        utilization_pct=round(100.0 * min(used, limit) / limit, 1),
        has_capacity=used < limit,
        timestamp=_time(now),
    )


def health(stores: Stores, machines_configured: bool) -> Health:
    """Whether the table and the bucket answer (one cheap call each), the state machines are set and
    the built-in algorithms are deployed (one Query of the built-ins' listing, a few small items)."""
    table = stores.quotas.is_reachable()
    checks = {
        "table": _check(table, "the records table answers a read"),
        "bucket": _check(stores.objects.is_reachable(), "the data bucket answers HeadBucket"),
        "state_machines": _check(
            machines_configured, "the execution, training, workflow and campaign state machines are set"
        ),
        # The operator deploys them after the stack (`python -m gpu_worker.builtins`, docs/deploy.md);
        # the local stack before it serves. Not read when the table does not answer.
        "builtins": _check(
            table and bool(stores.algorithms.list_visible(BUILTIN_OWNER)),
            "the built-in algorithms are deployed",
        ),
    }
    healthy = all(check.status == "ok" for check in checks.values())
    return Health(status="ok" if healthy else "degraded", checks=checks)


def _check(passed: bool, what: str) -> ComponentCheck:
    return ComponentCheck(status="ok" if passed else "failed", detail=what if passed else f"not so: {what}")


def _live_jobs(tenant: str, stores: Stores) -> list[LiveJob]:
    """The tenant's jobs accepted and not ended: the quota item's queued members (at most its queued
    cap), read in one batch per kind."""
    ids: dict[JobKind, list[str]] = {"execution": [], "training": []}
    for member in stores.quotas.usage(tenant).queued:
        kind, _, job_id = member.rpartition("#")
        if kind in ids:
            ids["training" if kind == "training" else "execution"].append(job_id)
    live: list[LiveJob] = []
    for kind, job_ids in ids.items():
        if job_ids:
            records: Iterable[JobRecord] = _store(kind, stores).get_many(job_ids, tenant).values()
            live.extend(LiveJob(kind, r) for r in records if not is_terminal(r.status))
    return live


def _queue(name: QueueName, live: list[LiveJob], now: float) -> QueueStats:
    mine = [job for job in live if job.queue == name]
    pending = sorted((job for job in mine if job.record.status is JobStatus.PENDING), key=lambda j: j.order)
    return QueueStats(
        name=name,
        depth=len(pending),
        running=sum(1 for job in mine if job.record.status in ACTIVE_STATUSES),
        oldest_wait_seconds=max((now - job.record.created_at for job in pending), default=None),
        jobs=[
            QueuedJob(
                kind=job.kind,
                job_id=job.job_id,
                priority=job.record.priority,
                position=i + 1,
                created=_time(job.record.created_at),
                wait_seconds=max(now - job.record.created_at, 0.0),
            )
            for i, job in enumerate(pending)
        ],
    )


def _not_queued(tenant: str, queue: QueueName, job_id: str, stores: Stores) -> Exception:
    for kind in ("execution", "training"):
        try:
            record = _store(kind, stores).get(job_id, tenant)
        except NotFoundError:
            continue
        if record.status is not JobStatus.PENDING:
            return IllegalTransitionError(f"{kind} {job_id} is {record.status.value}, not queued")
        return NotFoundError(f"{kind} {job_id} is not in the {queue} queue")
    return NotFoundError("job not found")


def _store(kind: JobKind, stores: Stores) -> JobStore[JobRecord]:
    store: JobStore[JobRecord] = stores.trainings if kind == "training" else stores.executions  # type: ignore[assignment]
    return store


def _kind_stats(kind: JobKind, records: list[JobRecord]) -> KindStats:
    durations = sorted(
        r.time_completed - r.time_started
        for r in records
        if r.status in (JobStatus.COMPLETED, JobStatus.FAILED)
        and r.time_started is not None
        and r.time_completed is not None
    )
    return KindStats(
        kind=kind,
        total=len(records),
        by_status=_by_status(records),
        success_rate=_success_rate(records),
        mean_duration_seconds=round(sum(durations) / len(durations), 3) if durations else None,
        p95_duration_seconds=_p95(durations),
    )


def _p95(durations: list[float]) -> float | None:
    # Nearest rank: the smallest duration at least 95 % of the (sorted) durations do not exceed.
    return durations[math.ceil(P95 * len(durations)) - 1] if durations else None


def _by_status(records: list[JobRecord]) -> dict[JobStatus, int]:
    counts = dict.fromkeys(JobStatus, 0)
    for record in records:
        counts[record.status] += 1
    return counts


def _success_rate(records: list[JobRecord]) -> float | None:
    ended = [r for r in records if is_terminal(r.status)]
    if not ended:
        return None
    return round(sum(1 for r in ended if r.status is JobStatus.COMPLETED) / len(ended), 4)


def _running_job(job: LiveJob, now: float) -> RunningJob:
    started = job.record.time_started
    return RunningJob(
        kind=job.kind,
        job_id=job.job_id,
        queue=job.queue,
        status=job.record.status,
        priority=job.record.priority,
        started=_time(started) if started is not None else None,
        running_seconds=max(now - started, 0.0) if started is not None else None,
    )


def _time(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
