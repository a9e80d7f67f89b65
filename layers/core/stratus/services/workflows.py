"""Workflow use cases of the API: create (every step checked up front), start, pause, resume, retry a
step, cancel, update, delete, clean up."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from stratus.algorithms import parameter_schema
from stratus.errors import IllegalTransitionError, InvalidInputError, NotFoundError, StratusError
from stratus.models.executions import ExecutionCreate
from stratus.models.trainings import TrainingCreate
from stratus.models.webhooks import WebhookEvent
from stratus.models.workflow_runs import WorkflowInput
from stratus.models.workflows import (
    FINAL_STEP_STATUSES,
    RERUN_STEP_STATUSES,
    TARGET_FIELDS,
    StepRecord,
    StepStatus,
    TaskType,
    WorkflowRecord,
    WorkflowStatus,
)
from stratus.services import dags, files, jobs, launch, trainings, webhooks

if TYPE_CHECKING:
    from stratus.models.workflows import WorkflowCreate, WorkflowStepDefinition, WorkflowUpdate
    from stratus.stores import StateMachineStore, Stores

# As trainings: a workflow may run for days, and its record outlives its runs for a while.
WORKFLOW_LIFETIME_SECONDS = 30 * 86_400
# Stands in for a value a mapping supplies, so a step's body can be checked before it exists.
PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"
LIVE = frozenset({WorkflowStatus.PENDING, WorkflowStatus.RUNNING, WorkflowStatus.PAUSED})


@dataclass(frozen=True)
class Machines:
    """The state machines a workflow's use cases start and stop."""

    workflow: StateMachineStore
    execution: StateMachineStore
    training: StateMachineStore


def create(
    request: WorkflowCreate,
    tenant: str,
    stores: Stores,
    machines: Machines,
    start: bool,
    workflow_id: str | None = None,
) -> str:
    """Check the DAG and every step's body as its endpoint would, store the workflow PENDING with its
    steps, and start it when ``start``; returns its id (``workflow_id`` when given: a campaign's trial
    names its own, so a retry finds it).

    Raises InvalidInputError (422 naming the step), NotFoundError and NotReadyError (a step's algorithm,
    checkpoint, file or sample), naming the step.
    """
    dags.check(request.steps)
    for step in request.steps:
        check_step(step, tenant, stores)
    now = stores.clock()
    workflow_id = workflow_id or str(uuid.uuid4())
    expires_at = int(now) + WORKFLOW_LIFETIME_SECONDS
    record = WorkflowRecord(
        workflow_id=workflow_id,
        tenant=tenant,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
        total_steps=len(request.steps),
        final_step_ids=dags.final_steps(request.steps),
        **request.model_dump(exclude={"steps"}),
    )
    steps = [
        StepRecord(
            workflow_id=workflow_id,
            tenant=tenant,
            step_id=step.id,
            index=index,
            definition=step,
            updated_at=now,
            expires_at=expires_at,
        )
        for index, step in enumerate(request.steps)
    ]
    stores.workflows.create_with_steps(record, steps)
    if start:
        start_workflow(workflow_id, tenant, stores, machines)
    return workflow_id


def check_step(step: WorkflowStepDefinition, tenant: str, stores: Stores) -> dict[str, Any]:
    """Refuse a step whose job would be refused: its body (mapped fields stood in for), its algorithm,
    version, parameters, device, checkpoint, and the files or samples it names itself. Returns the JSON
    schema of the parameters its job takes (`additional_parameters`)."""
    body = dict(step.config)
    for field in dags.mapped_fields(step):
        is_list = TARGET_FIELDS[step.task_type][field]
        body[field] = [PLACEHOLDER_ID] if is_list else PLACEHOLDER_ID  # a mapped value replaces config's
    try:
        request: ExecutionCreate | TrainingCreate = (
            TrainingCreate if step.task_type is TaskType.TRAINING else ExecutionCreate
        ).model_validate(body)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(
            f"step {step.id}: its {step.task_type.value} body is invalid: {detail}"
        ) from exc
    mapped_checkpoint = "checkpoint_id" in dags.mapped_fields(step)
    schema: Literal["additional_parameters", "training_parameters"] = (
        "training_parameters" if step.task_type is TaskType.TRAINING else "additional_parameters"
    )
    try:
        _, config = jobs.plan_job(
            jobs.algorithm_id_of(request, tenant, stores),
            request.algorithm_minor_version,
            None if mapped_checkpoint else request.checkpoint_id,
            request.additional_parameters or {},
            request.execution_device_override,
            tenant,
            stores,
            schema=schema,
        )
        if isinstance(request, TrainingCreate):
            stores.samples.get_all(request.training_data + request.validation_data, tenant)
        else:
            files.get_ready_many(list(step.config.get("input_dataset_ids", [])), tenant, stores)
    except StratusError as exc:
        raise type(exc)(f"step {step.id}: {exc.detail}") from exc
    return parameter_schema(getattr(config, schema))


def get(workflow_id: str, tenant: str, stores: Stores) -> tuple[WorkflowRecord, list[StepRecord]]:
    """The workflow and its steps. Raises NotFoundError."""
    record = stores.workflows.get(workflow_id, tenant)
    return record, stores.workflows.steps(workflow_id)


def start_workflow(workflow_id: str, tenant: str, stores: Stores, machines: Machines) -> WorkflowRecord:
    """PENDING → RUNNING, and its first run started. Raises NotFoundError, IllegalTransitionError."""
    record = stores.workflows.get(workflow_id, tenant)
    started = _run(record, [WorkflowStatus.PENDING], stores, machines, {"started_at": stores.clock()})
    webhooks.notify_workflow(started, WebhookEvent.START, stores)
    return started


def _run(
    record: WorkflowRecord,
    sources: list[WorkflowStatus],
    stores: Stores,
    machines: Machines,
    values: dict[str, Any] | None = None,
) -> WorkflowRecord:
    """RUNNING with a new run (named <id>-<n>, so a retried start is idempotent) driving it."""
    run = f"{record.workflow_id}-{record.run_count + 1}"
    running = stores.workflows.transition(
        record.workflow_id,
        WorkflowStatus.RUNNING,
        {
            "runner": run,
            "runner_active": True,
            "run_count": record.run_count + 1,
            "completed_at": None,
            **(values or {}),
        },
        sources=sources,
        condition=_unchanged(record),
    )
    try:
        machines.workflow.start(run, WorkflowInput(workflow_id=record.workflow_id).model_dump())
    except Exception as exc:
        # Nothing would ever move a workflow whose run did not start: it ends FAILED, and the error goes on.
        with contextlib.suppress(IllegalTransitionError):
            stores.workflows.transition(
                record.workflow_id,
                WorkflowStatus.FAILED,
                {
                    "runner_active": False,
                    "errors": [*record.errors, f"its run did not start: {type(exc).__name__}"],
                },
                sources=[WorkflowStatus.RUNNING],
            )
        raise
    return running


def _unchanged(record: WorkflowRecord) -> Any:
    # Guards against a concurrent start or resume: only one of two can take the run count from n to n+1.
    from boto3.dynamodb.conditions import Attr

    return Attr("run_count").eq(record.run_count)


def pause(workflow_id: str, tenant: str, stores: Stores) -> WorkflowRecord:
    """RUNNING → PAUSED: no new step starts; running steps finish. Raises NotFoundError,
    IllegalTransitionError."""
    stores.workflows.get(workflow_id, tenant)
    return stores.workflows.transition(workflow_id, WorkflowStatus.PAUSED, sources=[WorkflowStatus.RUNNING])


def resume(workflow_id: str, tenant: str, stores: Stores, machines: Machines) -> WorkflowRecord:
    """PAUSED or FAILED → RUNNING: failed, skipped and never-run steps run again, completed ones keep
    their outputs. A paused workflow whose run still finishes its steps just goes on with that run.

    Raises NotFoundError, IllegalTransitionError.
    """
    record = stores.workflows.get(workflow_id, tenant)
    if record.status is WorkflowStatus.PAUSED and record.runner_active:
        with contextlib.suppress(IllegalTransitionError):  # the run ended meanwhile: start a new one
            return stores.workflows.transition(
                workflow_id,
                WorkflowStatus.RUNNING,
                sources=[WorkflowStatus.PAUSED],
                condition=stores.workflows.runner_is(record.runner or "") & _active(),
            )
        record = stores.workflows.get(workflow_id, tenant)
    if record.status not in (WorkflowStatus.PAUSED, WorkflowStatus.FAILED) or record.runner_active:
        raise IllegalTransitionError(
            f"workflow {workflow_id} is {record.status.value}; only a PAUSED or FAILED one resumes"
        )
    _rerun(stores.workflows.steps(workflow_id), lambda s: s.status in RERUN_STEP_STATUSES, stores)
    return _run(record, [WorkflowStatus.PAUSED, WorkflowStatus.FAILED], stores, machines)


def _active() -> Any:
    from boto3.dynamodb.conditions import Attr

    return Attr("runner_active").eq(True)


def retry_step(
    workflow_id: str, step_id: str, tenant: str, stores: Stores, machines: Machines
) -> WorkflowRecord:
    """Run one FAILED step again (and the steps it kept from running), in a new run of its FAILED or
    PAUSED workflow. Raises NotFoundError, IllegalTransitionError."""
    record = stores.workflows.get(workflow_id, tenant)
    steps = stores.workflows.steps(workflow_id)
    step = next((s for s in steps if s.step_id == step_id), None)
    if step is None:
        raise NotFoundError(f"workflow {workflow_id} has no step {step_id}")
    if step.status is not StepStatus.FAILED:
        raise IllegalTransitionError(f"step {step_id} is {step.status.value}; only a FAILED step is retried")
    if record.status not in (WorkflowStatus.PAUSED, WorkflowStatus.FAILED) or record.runner_active:
        raise IllegalTransitionError(
            f"workflow {workflow_id} is {record.status.value} with a run going on; retry a step once it "
            "is FAILED or PAUSED (while it runs, max_retries retries steps)"
        )
    again = {step_id} | dags.downstream_of([step_id], {s.step_id: s.definition for s in steps})
    _rerun(steps, lambda s: s.step_id in again and s.status in RERUN_STEP_STATUSES, stores)
    return _run(record, [WorkflowStatus.PAUSED, WorkflowStatus.FAILED], stores, machines)


def _rerun(steps: list[StepRecord], chosen: Any, stores: Stores) -> None:
    for step in steps:
        if chosen(step):
            stores.workflows.update_step(
                step,
                {"status": StepStatus.PENDING.value, "retry_count": 0},
                allowed=[step.status],
                remove=["error_message", "task_id", "completed_at", "started_at"],
            )


def cancel(workflow_id: str, tenant: str, stores: Stores, machines: Machines) -> WorkflowRecord:
    """PENDING, RUNNING or PAUSED → CANCELLED: no step starts any more, running steps' jobs are stopped
    (and their Batch jobs), and the run is stopped. Raises NotFoundError, IllegalTransitionError."""
    record = stores.workflows.get(workflow_id, tenant)
    cancelled = stores.workflows.transition(
        workflow_id, WorkflowStatus.CANCELLED, {"completed_at": stores.clock()}
    )
    for step in stores.workflows.steps(workflow_id):
        if step.status is StepStatus.RUNNING and step.task_id is not None:
            with contextlib.suppress(IllegalTransitionError, StratusError):  # it ended first
                if step.definition.task_type is TaskType.TRAINING:
                    trainings.stop(step.task_id, tenant, stores, machines.training)
                else:
                    launch.stop(step.task_id, tenant, stores, machines.execution)
        if step.status not in FINAL_STEP_STATUSES:
            with contextlib.suppress(IllegalTransitionError):  # the runner collected it meanwhile
                stores.workflows.update_step(
                    step,
                    {"status": StepStatus.CANCELLED.value, "completed_at": stores.clock()},
                    allowed=[step.status],
                )
    if record.runner is not None:
        machines.workflow.stop(record.runner, "the workflow was cancelled through the API")
    webhooks.notify_workflow(cancelled, WebhookEvent.STOPPED, stores)
    return cancelled


def update(workflow_id: str, tenant: str, changes: WorkflowUpdate, stores: Stores) -> WorkflowRecord:
    """Change name, description or config while PENDING. Raises NotFoundError, IllegalTransitionError."""
    stores.workflows.get(workflow_id, tenant)
    values = changes.model_dump(exclude_unset=True)
    return stores.workflows.update(workflow_id, values, allowed=[WorkflowStatus.PENDING])


def delete(workflow_id: str, tenant: str, stores: Stores, machines: Machines) -> None:
    """Cancel the workflow if it is live, then remove it and its steps (their jobs' records stay)."""
    record = stores.workflows.get(workflow_id, tenant)
    if record.status in LIVE:
        with contextlib.suppress(IllegalTransitionError):
            cancel(workflow_id, tenant, stores, machines)
    stores.workflows.remove(workflow_id, tenant)


def cleanup(
    workflow_id: str, tenant: str, stores: Stores
) -> tuple[WorkflowRecord, list[StepRecord], list[str], list[str]]:
    """Delete the output files of the steps that others depend on (intermediate outputs) of an ended
    workflow; the records stay. Returns the workflow, its steps, the deleted file ids and why others were
    not deleted. Raises NotFoundError, IllegalTransitionError (the workflow is still live)."""
    record, steps = get(workflow_id, tenant, stores)
    if record.status in LIVE:
        raise IllegalTransitionError(
            f"workflow {workflow_id} is {record.status.value}; clean it up once it ended"
        )
    finals = set(record.final_step_ids)
    deleted: list[str] = []
    errors: list[str] = []
    for step in steps:
        if step.step_id in finals or not step.result:
            continue
        for file_id in step.result.get("output_dataset_ids", []):
            try:
                files.delete_file(file_id, tenant, stores)
                deleted.append(file_id)
            except StratusError as exc:
                errors.append(f"step {step.step_id}: file {file_id}: {exc.detail}")
    return record, steps, deleted, errors
