"""Queues, priority and monitoring: slot order of a tenant's queued jobs (priority, then age), changing a
queued job's priority or place, queue views, stats over a window, running jobs and health."""

from __future__ import annotations

import uuid

import pytest
from stratus.errors import ConflictError, IllegalTransitionError, NotFoundError, RunSlotsBusyError
from stratus.models.executions import ExecutionRecord, ExecutionStatus
from stratus.models.jobs import DevicePlan, JobError
from stratus.services import executions, holds, jobs, monitoring
from stratus.services.quotas import WAITING_STALE_S
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.builtins import deploy_builtins
from tests.conftest import MovableClock, job_plan

TENANT = "local"


def _accept(stores: Stores, clock: MovableClock, priority: int = 0, device: str = "cpu") -> str:
    """A PENDING execution, admitted to the tenant's quota as the API accepts one (one second apart)."""
    clock.advance(1)
    record = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=TENANT,
        algorithm_id="algorithm-1",
        input_dataset_ids=[],
        plan=job_plan(device=DevicePlan(kind=device)),
        priority=priority,
        created_at=clock(),
        expires_at=int(clock()) + 86_400,
    )
    holder = holds.holder_of("execution", record.execution_id)
    assert (
        stores.executions.transact(
            [stores.executions.create_write(record), stores.quotas.admit_write(TENANT, holder)]
        )
        is None
    )
    return record.execution_id


def _is_refused(stores: Stores, execution_id: str) -> bool:
    try:
        executions.mark_started(execution_id, stores)
    except RunSlotsBusyError:
        return True
    return False


def _end(stores: Stores, execution_id: str) -> None:
    stores.executions.mark_running(execution_id)
    stores.executions.finish(execution_id, [])
    executions.finalize(execution_id, stores)


@pytest.fixture
def one_slot(stores: Stores) -> Stores:
    stores.quotas.max_running = 1
    return stores


def test_mark_started_gives_the_free_slot_to_the_highest_priority_waiting_job(
    one_slot: Stores, clock: MovableClock
) -> None:
    stores = one_slot
    blocker = _accept(stores, clock)
    executions.mark_started(blocker, stores)
    low, high = _accept(stores, clock, priority=-5), _accept(stores, clock, priority=50)
    assert _is_refused(stores, low) and _is_refused(stores, high)
    _end(stores, blocker)

    low_refused = _is_refused(stores, low)
    high_started = not _is_refused(stores, high)

    assert (low_refused, high_started) == (True, True)
    assert stores.executions.get(high).status is ExecutionStatus.STARTED
    assert stores.executions.get(low).status is ExecutionStatus.PENDING


def test_mark_started_takes_the_older_job_first_at_equal_priority(
    one_slot: Stores, clock: MovableClock
) -> None:
    stores = one_slot
    blocker = _accept(stores, clock)
    executions.mark_started(blocker, stores)
    older, younger = _accept(stores, clock), _accept(stores, clock)
    assert _is_refused(stores, younger) and _is_refused(stores, older)
    _end(stores, blocker)

    refused = _is_refused(stores, younger)

    assert refused
    assert not _is_refused(stores, older)


def test_mark_started_skips_a_waiting_job_that_stopped_asking(one_slot: Stores, clock: MovableClock) -> None:
    stores = one_slot
    blocker = _accept(stores, clock)
    executions.mark_started(blocker, stores)
    gone, low = _accept(stores, clock, priority=90), _accept(stores, clock)
    assert _is_refused(stores, gone) and _is_refused(stores, low)
    _end(stores, blocker)
    clock.advance(WAITING_STALE_S + 1)  # `gone`'s run no longer retries; its record stays PENDING

    started = not _is_refused(stores, low)

    assert started
    assert "execution#" + gone not in stores.quotas.usage(TENANT).waiting


def test_stopped_waiting_job_leaves_the_queue(one_slot: Stores, clock: MovableClock) -> None:
    stores = one_slot
    blocker = _accept(stores, clock)
    executions.mark_started(blocker, stores)
    stopped, low = _accept(stores, clock, priority=90), _accept(stores, clock)
    assert _is_refused(stores, stopped) and _is_refused(stores, low)
    jobs.stop(stopped, TENANT, stores.executions, None, [], stores)
    _end(stores, blocker)

    started = not _is_refused(stores, low)

    assert started


def test_set_priority_reorders_a_waiting_job(one_slot: Stores, clock: MovableClock) -> None:
    stores = one_slot
    blocker = _accept(stores, clock)
    executions.mark_started(blocker, stores)
    first, second = _accept(stores, clock), _accept(stores, clock)
    assert _is_refused(stores, first) and _is_refused(stores, second)
    jobs.set_priority(second, TENANT, 10, stores.executions, stores)
    _end(stores, blocker)

    refused = _is_refused(stores, first)

    assert refused
    assert not _is_refused(stores, second)


def test_set_priority_refuses_a_started_job(stores: Stores, clock: MovableClock) -> None:
    started = _accept(stores, clock)
    executions.mark_started(started, stores)

    with pytest.raises(IllegalTransitionError, match="only a queued"):
        jobs.set_priority(started, TENANT, 10, stores.executions, stores)


def test_set_priority_does_not_find_another_tenants_job(stores: Stores, clock: MovableClock) -> None:
    queued = _accept(stores, clock)

    with pytest.raises(NotFoundError):
        jobs.set_priority(queued, "acme", 10, stores.executions, stores)


def test_queues_lists_queued_jobs_in_slot_order_per_queue(one_slot: Stores, clock: MovableClock) -> None:
    stores = one_slot
    running = _accept(stores, clock)
    executions.mark_started(running, stores)
    old, urgent, gpu = (
        _accept(stores, clock),
        _accept(stores, clock, priority=7),
        _accept(stores, clock, device="cuda"),
    )
    clock.advance(10)

    view = monitoring.queues(TENANT, stores)

    cpu_queue, gpu_queue = ({q.name: q for q in view.queues}[n] for n in ("cpu", "gpu"))
    assert [(j.job_id, j.position) for j in cpu_queue.jobs] == [(urgent, 1), (old, 2)]
    assert (cpu_queue.depth, cpu_queue.running, cpu_queue.oldest_wait_seconds) == (2, 1, 12.0)
    assert [j.job_id for j in gpu_queue.jobs] == [gpu]
    assert (view.total_pending, view.total_running) == (3, 1)


@pytest.mark.parametrize(
    ("direction", "order"), [("up", "bac"), ("top", "bac"), ("down", "acb"), ("bottom", "acb")]
)
def test_move_changes_the_place_of_a_queued_job(
    stores: Stores, clock: MovableClock, direction: str, order: str
) -> None:
    ids = dict(zip("abc", (_accept(stores, clock) for _ in range(3)), strict=True))
    names = {job_id: name for name, job_id in ids.items()}

    queue = monitoring.move(TENANT, "cpu", ids["b"], direction, stores)  # type: ignore[arg-type]

    assert "".join(names[j.job_id] for j in queue.jobs) == order


def test_move_leaves_the_first_job_first(stores: Stores, clock: MovableClock) -> None:
    first, second = _accept(stores, clock), _accept(stores, clock)

    queue = monitoring.move(TENANT, "cpu", first, "up", stores)

    assert [j.job_id for j in queue.jobs] == [first, second]
    assert stores.executions.get(first).priority == 0


def test_move_refuses_a_job_that_is_not_queued(stores: Stores, clock: MovableClock) -> None:
    started = _accept(stores, clock)
    executions.mark_started(started, stores)

    with pytest.raises(IllegalTransitionError):
        monitoring.move(TENANT, "cpu", started, "top", stores)


def test_move_does_not_find_a_job_of_the_other_queue(stores: Stores, clock: MovableClock) -> None:
    queued = _accept(stores, clock)

    with pytest.raises(NotFoundError):
        monitoring.move(TENANT, "gpu", queued, "top", stores)


def test_move_refuses_a_priority_beyond_the_highest(stores: Stores, clock: MovableClock) -> None:
    _accept(stores, clock, priority=100)
    second = _accept(stores, clock, priority=100)

    with pytest.raises(ConflictError):
        monitoring.move(TENANT, "cpu", second, "up", stores)


def test_stats_counts_statuses_and_durations_per_kind(stores: Stores, clock: MovableClock) -> None:
    done = [_accept(stores, clock) for _ in range(2)]
    for seconds, execution_id in zip((10, 30), done, strict=True):
        executions.mark_started(execution_id, stores)
        clock.advance(seconds)
        _end(stores, execution_id)
    failed = _accept(stores, clock)
    jobs.fail_unless_final(failed, stores.executions, JobError(type="E", message="m"))
    _accept(stores, clock)

    answer = monitoring.stats(TENANT, 24, stores)

    (execution_stats,) = [k for k in answer.kinds if k.kind == "execution"]
    assert execution_stats.by_status[ExecutionStatus.COMPLETED] == 2
    assert execution_stats.by_status[ExecutionStatus.PENDING] == 1
    assert execution_stats.success_rate == pytest.approx(2 / 3, abs=1e-3)
    assert (execution_stats.mean_duration_seconds, execution_stats.p95_duration_seconds) == (20.0, 30.0)
    assert (answer.total_jobs, answer.jobs_last_hour, answer.jobs_last_24h) == (4, 4, 4)


def test_stats_leave_out_jobs_accepted_before_the_window(stores: Stores, clock: MovableClock) -> None:
    _accept(stores, clock)
    clock.advance(2 * 3600)
    _accept(stores, clock)

    answer = monitoring.stats(TENANT, 1, stores)

    assert (answer.total_jobs, answer.jobs_last_24h) == (1, 2)


def test_workers_lists_running_jobs_and_slots(stores: Stores, clock: MovableClock) -> None:
    running = _accept(stores, clock, device="cuda")
    executions.mark_started(running, stores)
    _accept(stores, clock)

    answer = monitoring.workers(TENANT, stores)

    assert [(j.job_id, j.queue, j.status) for j in answer.jobs] == [(running, "gpu", ExecutionStatus.STARTED)]
    assert (answer.running_slots_used, answer.max_running_jobs) == (1, stores.quotas.max_running)


def test_health_checks_table_bucket_and_state_machines(stores: Stores) -> None:
    answer = monitoring.health(stores, machines_configured=False)

    assert answer.status == "degraded"
    assert {name: check.status for name, check in (answer.checks or {}).items()} == {
        "table": "ok",
        "bucket": "ok",
        "state_machines": "failed",
        "builtins": "failed",
    }


def test_health_checks_that_the_builtins_are_deployed(stores: Stores, settings: Settings) -> None:
    deploy_builtins(stores, settings)

    answer = monitoring.health(stores, machines_configured=True)

    assert (answer.status, (answer.checks or {})["builtins"].status) == ("ok", "ok")
