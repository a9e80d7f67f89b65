"""The workflow runner's tasks (statemachines/workflow.asl.json): each round collects the steps whose
jobs ended, then starts the steps that became ready (reusing cached outputs where it may), or ends the
run. The DAG is data: one state machine runs every workflow."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from stratus.errors import (
    ConflictError,
    IllegalTransitionError,
    NotFoundError,
    StratusError,
    TooManyRequestsError,
)
from stratus.models.executions import ExecutionCreate, ExecutionInput
from stratus.models.jobs import JobError, JobStatus, is_terminal
from stratus.models.trainings import TrainingCreate, TrainingInput, TrainingRecord
from stratus.models.webhooks import WebhookEvent
from stratus.models.workflow_runs import PlanRoundTask, RoundPlan, SettleStepTask, StepRun
from stratus.models.workflows import (
    FINAL_STEP_STATUSES,
    OnFailure,
    StepRecord,
    StepStatus,
    TaskType,
    WorkflowStatus,
)
from stratus.services import dags, holds, jobs, launch, step_cache, trainings, webhooks

if TYPE_CHECKING:
    from stratus.models.workflow_runs import MarkWorkflowFailedTask, WorkflowTask
    from stratus.models.workflows import WorkflowRecord
    from stratus.stores import Stores
    from stratus.stores.jobs import JobStore

# The state machine of each task type (the workflow machine's substitutions, passed in each round).
Machines = dict[TaskType, str]
# The event a run's end sends (PAUSED sends none: the workflow has not ended).
END_EVENTS = {WorkflowStatus.COMPLETED: WebhookEvent.COMPLETED, WorkflowStatus.FAILED: WebhookEvent.FAILED}
# A plan task stops starting steps after this long (each costs a few reads and writes; cache hits are
# cheaper but unbounded in number), well within the steps function's timeout; the next round goes on.
PLAN_BUDGET_S = 20
# Child runs one round starts at most: the Map's input (one small item each) stays far under Step
# Functions' 256 KB, and steps beyond wait for the next round.
ROUND_LIMIT = 200
# A step without timeout_seconds: the Map task still needs one; a Standard run lasts at most a year.
NO_TIMEOUT_SECONDS = 365 * 86_400
TIMEOUT_ERROR = "States.Timeout"


def run_task(task: WorkflowTask, stores: Stores) -> RoundPlan | StepRecord:
    """Run one of the runner's tasks."""
    if isinstance(task, PlanRoundTask):
        return plan_round(task, stores)
    if isinstance(task, SettleStepTask):
        return settle_step(task, stores)
    return mark_failed(task, stores)


def job_store(kind: TaskType, stores: Stores) -> JobStore[Any]:
    """The store of a step's jobs."""
    return stores.trainings if kind is TaskType.TRAINING else stores.executions


def plan_round(task: PlanRoundTask, stores: Stores) -> RoundPlan:
    """Collect ended steps, then start ready ones: "run" them, "wait" for stray running jobs, or "end"
    the run (the workflow is final, paused or another run drives it). Idempotent: a retried task finds
    the steps it started RUNNING with jobs not yet launched, and launches those."""
    try:
        record = stores.workflows.get(task.workflow_id)
    except NotFoundError:  # deleted while its run went on: nothing left to drive
        return RoundPlan(workflow_id=task.workflow_id, next="end", status=WorkflowStatus.CANCELLED)
    if record.runner != task.run or not record.runner_active:
        return RoundPlan(workflow_id=record.workflow_id, next="end", status=record.status)
    steps = stores.workflows.steps(record.workflow_id)
    running_jobs = _jobs_of(steps, record.tenant, stores)
    steps = [_collect(s, running_jobs, stores) if s.status is StepStatus.RUNNING else s for s in steps]
    if record.status is WorkflowStatus.CANCELLED:
        return _end_run(record, steps, stores)
    steps = _skip_after_failures(steps, stores)
    unlaunched = [
        s
        for s in steps
        if s.status is StepStatus.RUNNING and running_jobs[s.task_id or ""].status is JobStatus.PENDING
    ]
    running = [s for s in steps if s.status is StepStatus.RUNNING and s not in unlaunched]
    stopping = record.status is WorkflowStatus.PAUSED or _has_stopping_failure(steps)
    runs = [_step_run(s, task.machines, stores) for s in unlaunched]
    more = False
    if not stopping:
        started, more = _start_ready(record, steps, task.machines, stores, ROUND_LIMIT - len(runs))
        runs += started
    steps = stores.workflows.steps(record.workflow_id)
    record = _count(record, steps, stores)
    if runs or more:  # with nothing to run but more to plan, the Map is empty and the next round comes
        return RoundPlan(workflow_id=record.workflow_id, next="run", status=record.status, steps=runs)
    if running or any(s.status is StepStatus.RUNNING for s in steps):
        return RoundPlan(workflow_id=record.workflow_id, next="wait", status=record.status)
    if not stopping and any(s.status is StepStatus.PENDING for s in steps if _is_ready(s, steps)):
        return RoundPlan(
            workflow_id=record.workflow_id, next="wait", status=record.status
        )  # the queue was full
    return _end_run(record, steps, stores)


def _jobs_of(steps: list[StepRecord], tenant: str, stores: Stores) -> dict[str, Any]:
    """The live jobs of the RUNNING steps, by id: one batched read per job kind."""
    found: dict[str, Any] = {}
    for kind in TaskType:
        ids = [
            s.task_id
            for s in steps
            if s.status is StepStatus.RUNNING and s.task_id and s.definition.task_type is kind
        ]
        if ids:
            found.update(job_store(kind, stores).get_many(ids, tenant))
    return found


def _collect(step: StepRecord, jobs_by_id: dict[str, Any], stores: Stores) -> StepRecord:
    """A RUNNING step whose job ended: COMPLETED with its outputs, PENDING again for a retry, or FAILED
    (``jobs_by_id``: the RUNNING steps' jobs, read together)."""
    job = jobs_by_id.get(step.task_id or "")
    if job is None:
        return _fail_step(step, f"its job {step.task_id} is gone", stores)
    if not is_terminal(job.status):
        return step
    if job.status is JobStatus.COMPLETED:
        result = _result_of(step.definition.task_type, job)
        if step.definition.cache and step.cache_digest:
            step_cache.remember(step, result, stores)
        return _update(
            step,
            {"status": StepStatus.COMPLETED.value, "result": result, "completed_at": stores.clock()},
            stores,
        )
    error = step.error_message or (
        f"{job.error.type}: {job.error.message}" if job.error else f"its job ended {job.status.value}"
    )
    if step.retry_count < step.definition.max_retries:
        return _update(
            step,
            {"status": StepStatus.PENDING.value, "retry_count": step.retry_count + 1, "error_message": error},
            stores,
        )
    return _fail_step(step, error, stores)


def _result_of(kind: TaskType, job: Any) -> dict[str, Any]:
    if kind is TaskType.TRAINING:
        return {
            "best_checkpoint_id": job.best_checkpoint_id,
            "output_checkpoint_ids": job.output_checkpoint_ids,
        }
    return {"output_dataset_ids": job.output_dataset_ids}


def _fail_step(step: StepRecord, error: str, stores: Stores) -> StepRecord:
    return _update(
        step,
        {"status": StepStatus.FAILED.value, "error_message": error, "completed_at": stores.clock()},
        stores,
    )


def _update(step: StepRecord, values: dict[str, Any], stores: Stores) -> StepRecord:
    # Only the run that drives the workflow writes its steps (and the API while no run does).
    return stores.workflows.update_step(step, values, allowed=[step.status])


def _skip_after_failures(steps: list[StepRecord], stores: Stores) -> list[StepRecord]:
    """Steps downstream of a failed one can never run: SKIPPED (resume and retry run them again)."""
    by_id = {s.step_id: s.definition for s in steps}
    failed = [s.step_id for s in steps if s.status in (StepStatus.FAILED, StepStatus.SKIPPED)]
    doomed = dags.downstream_of(failed, by_id)
    return [
        _update(s, {"status": StepStatus.SKIPPED.value, "error_message": "an upstream step failed"}, stores)
        if s.step_id in doomed and s.status is StepStatus.PENDING
        else s
        for s in steps
    ]


def _has_stopping_failure(steps: list[StepRecord]) -> bool:
    return any(s.status is StepStatus.FAILED and s.definition.on_failure is OnFailure.STOP for s in steps)


def _is_ready(step: StepRecord, steps: list[StepRecord]) -> bool:
    done = {s.step_id for s in steps if s.status is StepStatus.COMPLETED}
    return all(d in done for d in step.definition.depends_on)


def _start_ready(
    record: WorkflowRecord, steps: list[StepRecord], machines: Machines, stores: Stores, room: int
) -> tuple[list[StepRun], bool]:
    """Start the ready steps (up to ``room`` jobs, for at most PLAN_BUDGET_S); a cached step completes at
    once, which may make more steps ready, so this goes on until a pass starts nothing new. Returns the
    jobs to run, and whether it stopped with ready steps left (the next round goes on at once)."""
    runs: list[StepRun] = []
    deadline = time.monotonic() + PLAN_BUDGET_S
    while True:
        ready = [s for s in steps if s.status is StepStatus.PENDING and _is_ready(s, steps)]
        progressed = False
        for step in ready:
            if len(runs) >= room or time.monotonic() > deadline:
                return runs, True
            try:
                started = _start_step(record, step, steps, machines, stores)
            except TooManyRequestsError:
                return runs, False  # the tenant's queue is full: a later round tries again
            except IllegalTransitionError:
                return runs, False  # paused or cancelled meanwhile: nothing more starts
            except ConflictError:
                continue  # raced a change (an input's hold): the next round tries again
            if isinstance(started, StepRun):
                runs.append(started)
                continue
            steps = [started if s.step_id == step.step_id else s for s in steps]
            progressed = progressed or started.status is StepStatus.COMPLETED  # a cache hit
        if not progressed:
            return runs, False


def _start_step(
    record: WorkflowRecord, step: StepRecord, steps: list[StepRecord], machines: Machines, stores: Stores
) -> StepRun | StepRecord:
    """Accept the step's job (its body with the mappings applied); a refused body fails the step."""
    results = {s.step_id: s.result or {} for s in steps if s.status is StepStatus.COMPLETED}
    kind = step.definition.task_type
    try:
        body = dags.apply_mappings(step.definition, results)
        body["priority"] = record.priority
        request = (TrainingCreate if kind is TaskType.TRAINING else ExecutionCreate).model_validate(body)
        digest = step_cache.digest(kind, request, record.tenant, stores) if step.definition.cache else None
        hit = step_cache.lookup(record.tenant, digest, stores) if digest else None
        if hit is not None:
            return _update(
                step,
                {
                    "status": StepStatus.COMPLETED.value,
                    "result": hit["result"],
                    "cached_from": hit["source"],
                    "started_at": stores.clock(),
                    "completed_at": stores.clock(),
                },
                stores,
            )
        task_id = _accept(kind, request, record.tenant, stores)
    except (TooManyRequestsError, ConflictError):
        raise
    except (StratusError, ValidationError) as exc:
        detail = exc.detail if isinstance(exc, StratusError) else _validation_message(exc)
        return _fail_step(step, f"its {kind.value} was refused: {detail}", stores)
    values = {
        "status": StepStatus.RUNNING.value,
        "task_id": task_id,
        "task_ids": [*step.task_ids, task_id],
        "cache_digest": digest,
        "started_at": stores.clock(),
        "completed_at": None,
        "updated_at": stores.clock(),
    }
    try:
        stores.workflows.start_step(step, values, record.runner or "")
    except IllegalTransitionError as exc:
        # Paused or cancelled since this round began: the job never runs, and gives its places back.
        job = job_store(kind, stores).get(task_id)
        jobs.fail_unstarted(task_id, job_store(kind, stores), _inputs(job), exc, stores)
        raise
    started = step.model_copy(update={**values, "status": StepStatus.RUNNING})
    return _step_run(started, machines, stores)


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def _accept(kind: TaskType, request: Any, tenant: str, stores: Stores) -> str:
    # The Map starts the job's run (as a child of the workflow's), so accept stores it without starting.
    if kind is TaskType.TRAINING:
        return trainings.train(request, tenant, stores, None, None)
    return launch.execute(request, tenant, stores, None)


def _step_run(step: StepRecord, machines: Machines, stores: Stores) -> StepRun:
    assert step.task_id is not None
    kind = step.definition.task_type
    job = job_store(kind, stores).get(step.task_id)
    machine_input = (
        TrainingInput(training_id=step.task_id, device=job.plan.device.kind)
        if kind is TaskType.TRAINING
        else ExecutionInput(execution_id=step.task_id, device=job.plan.device.kind)
    )
    return StepRun(
        step_id=step.step_id,
        task_id=step.task_id,
        kind=kind,
        machine=machines[kind],
        # A run's ARN is its state machine's with :stateMachine: made :execution:, and its name appended.
        run_arn=f"{machines[kind].replace(':stateMachine:', ':execution:', 1)}:{step.task_id}",
        input=machine_input.model_dump(),
        timeout_seconds=step.definition.timeout_seconds or NO_TIMEOUT_SECONDS,
    )


def _count(record: WorkflowRecord, steps: list[StepRecord], stores: Stores) -> WorkflowRecord:
    completed = sum(s.status is StepStatus.COMPLETED for s in steps)
    errors = [f"step {s.step_id}: {s.error_message}" for s in steps if s.status is StepStatus.FAILED]
    if completed == record.completed_steps and errors == record.errors:
        return record
    updated = stores.workflows.update(record.workflow_id, {"completed_steps": completed, "errors": errors})
    if completed > record.completed_steps:
        webhooks.notify_workflow(updated, WebhookEvent.PROGRESS, stores)
    return updated


def _end_run(record: WorkflowRecord, steps: list[StepRecord], stores: Stores) -> RoundPlan:
    """The run ends: the workflow COMPLETED, FAILED (a step failed, or can't run), or as it is (PAUSED,
    CANCELLED). The write is conditional on the status read and this run: a resume or cancel that came in
    between wins, and the next round looks again."""
    if record.status is WorkflowStatus.RUNNING:
        done = all(s.status is StepStatus.COMPLETED for s in steps)
        target = WorkflowStatus.COMPLETED if done else WorkflowStatus.FAILED
        values: dict[str, Any] = {"runner_active": False, "completed_at": stores.clock()}
    else:
        target = record.status
        values = {"runner_active": False}
    try:
        ended = stores.workflows.transition(
            record.workflow_id,
            target,
            values,
            sources=[record.status],
            condition=stores.workflows.runner_is(record.runner or ""),
        )
    except IllegalTransitionError:
        return RoundPlan(workflow_id=record.workflow_id, next="wait", status=record.status)
    event = END_EVENTS.get(ended.status)
    if event is not None and ended.status is not record.status:
        webhooks.notify_workflow(ended, event, stores)
    return RoundPlan(workflow_id=ended.workflow_id, next="end", status=ended.status)


def settle_step(task: SettleStepTask, stores: Stores) -> StepRecord:
    """A step's child run ended and its job did not (it could not start, or it timed out): end the job,
    STOPPED on a timeout (its run was stopped before this task), FAILED otherwise; the next round
    collects the step."""
    store = job_store(task.kind, stores)
    step = next(s for s in stores.workflows.steps(task.workflow_id) if s.step_id == task.step_id)
    with contextlib.suppress(StratusError):
        job = store.get(task.task_id)
        if not is_terminal(job.status):
            if task.error.get("Error") == TIMEOUT_ERROR:
                message = f"timed out after {step.definition.timeout_seconds} s"
                jobs.stop(task.task_id, job.tenant, store, None, _inputs(job), stores, message)
                step = stores.workflows.update_step(
                    step, {"error_message": message}, allowed=[StepStatus.RUNNING]
                )
            else:
                error = JobError(
                    type=str(task.error.get("Error", "Error")),
                    message=str(task.error.get("Cause", ""))[:2000],
                )
                failed = jobs.fail_unless_final(task.task_id, store, error)
                holds.release_job(
                    holds.holder_of(task.kind.value, task.task_id), failed, _inputs(failed), stores
                )
    return step


def _inputs(job: Any) -> list[str]:
    if isinstance(job, TrainingRecord):
        return trainings.input_ids(job)
    return list(job.input_dataset_ids)


def mark_failed(task: MarkWorkflowFailedTask, stores: Stores) -> StepRecord | RoundPlan:
    """A runner state failed (not a step): the workflow ends FAILED with the cause, unless it is final."""
    try:
        record = stores.workflows.get(task.workflow_id)
    except NotFoundError:
        return RoundPlan(workflow_id=task.workflow_id, next="end", status=WorkflowStatus.CANCELLED)
    error, detail = task.error.get("Error", "Error"), str(task.error.get("Cause", ""))[:500]
    cause = f"the workflow's runner failed: {error}: {detail}"
    with contextlib.suppress(IllegalTransitionError):
        record = stores.workflows.transition(
            record.workflow_id,
            WorkflowStatus.FAILED,
            {"runner_active": False, "errors": [*record.errors, cause], "completed_at": stores.clock()},
            sources=[WorkflowStatus.RUNNING, WorkflowStatus.PAUSED],
            condition=stores.workflows.runner_is(task.run),
        )
        webhooks.notify_workflow(record, WebhookEvent.FAILED, stores)
    return RoundPlan(workflow_id=record.workflow_id, next="end", status=record.status)


__all__ = ["FINAL_STEP_STATUSES", "job_store", "plan_round", "run_task", "settle_step"]
