"""Workflows API (Sartiq's /workflows, in our style): DAGs of execution and training steps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from stratus.api.deps import (
    CallerDep,
    CursorQuery,
    LimitQuery,
    SettingsDep,
    StoresDep,
    WorkflowMachinesDep,
)
from stratus.models.ids import WorkflowId
from stratus.models.workflows import (
    STEP_ID_PATTERN,
    CleanupResult,
    Workflow,
    WorkflowCreate,
    WorkflowPage,
    WorkflowStatus,
    WorkflowSummary,
    WorkflowUpdate,
)
from stratus.services import webhooks, workflows

router = APIRouter(tags=["workflows"])

WorkflowIdPath = Annotated[WorkflowId, Path()]
StepIdPath = Annotated[str, Path(pattern=STEP_ID_PATTERN)]
ERRORS = {
    404: {"description": "Unknown or expired workflow (or a step's algorithm, checkpoint, file or sample)"},
    409: {"description": "Not allowed in the workflow's (or step's) status, or a step's file is not READY"},
    422: {"description": "An invalid DAG or step body; the message names the step"},
}


def _answer(workflow_id: str, caller: CallerDep, stores: StoresDep) -> Workflow:
    return Workflow.from_records(*workflows.get(workflow_id, caller.tenant, stores))


@router.post(
    "/workflows",
    summary="Create a workflow (and start it)",
    status_code=201,
    responses={k: ERRORS[k] for k in (404, 409, 422)},
)
def create_workflow(
    body: WorkflowCreate,
    caller: CallerDep,
    stores: StoresDep,
    machines: WorkflowMachinesDep,
    settings: SettingsDep,
    start: Annotated[bool, Query(description="Start it now (else POST …/start later)")] = True,
) -> Workflow:
    """Check the DAG (ids, dependencies, cycles, mappings) and every step's body as its endpoint would,
    then store it PENDING and, with `start`, run it."""
    webhooks.check_subscription(body, settings.allow_private_webhook_targets)
    for step in body.steps:  # a step's own job may have a subscription too
        if isinstance(step.config.get("webhook_url"), str):
            webhooks.check_url(step.config["webhook_url"], settings.allow_private_webhook_targets)
    workflow_id = workflows.create(body, caller.tenant, stores, machines, start)
    return _answer(workflow_id, caller, stores)


@router.get("/workflows", summary="List workflows, newest first")
def list_workflows(
    caller: CallerDep,
    stores: StoresDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: WorkflowStatus | None = None,
) -> WorkflowPage:
    """One page of the caller's workflows (without their steps), optionally of one status."""
    records, next_cursor = stores.workflows.list_recent(caller.tenant, limit, cursor, status)
    return WorkflowPage(items=[WorkflowSummary.from_record(r) for r in records], next_cursor=next_cursor)


@router.get("/workflows/{workflow_id}", summary="A workflow and its steps", responses={404: ERRORS[404]})
def get_workflow(workflow_id: WorkflowIdPath, caller: CallerDep, stores: StoresDep) -> Workflow:
    """The workflow, its progress, and each step with its job and result."""
    return _answer(workflow_id, caller, stores)


@router.patch(
    "/workflows/{workflow_id}",
    summary="Rename or reconfigure a PENDING workflow",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def update_workflow(
    workflow_id: WorkflowIdPath, body: WorkflowUpdate, caller: CallerDep, stores: StoresDep
) -> Workflow:
    """Change `name`, `description` or `config` while the workflow is PENDING."""
    workflows.update(workflow_id, caller.tenant, body, stores)
    return _answer(workflow_id, caller, stores)


@router.delete(
    "/workflows/{workflow_id}",
    summary="Cancel and delete a workflow",
    status_code=204,
    responses={404: ERRORS[404]},
)
def delete_workflow(
    workflow_id: WorkflowIdPath, caller: CallerDep, stores: StoresDep, machines: WorkflowMachinesDep
) -> Response:
    """Cancel it if it is live (its running jobs are stopped), then delete it and its steps; the steps'
    jobs and files stay until they expire."""
    workflows.delete(workflow_id, caller.tenant, stores, machines)
    return Response(status_code=204)


@router.post(
    "/workflows/{workflow_id}/start",
    summary="Start a PENDING workflow",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def start_workflow(
    workflow_id: WorkflowIdPath, caller: CallerDep, stores: StoresDep, machines: WorkflowMachinesDep
) -> Workflow:
    """PENDING → RUNNING: its ready steps start."""
    workflows.start_workflow(workflow_id, caller.tenant, stores, machines)
    return _answer(workflow_id, caller, stores)


@router.post(
    "/workflows/{workflow_id}/pause",
    summary="Pause a RUNNING workflow",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def pause_workflow(workflow_id: WorkflowIdPath, caller: CallerDep, stores: StoresDep) -> Workflow:
    """RUNNING → PAUSED: no new step starts; running steps finish."""
    workflows.pause(workflow_id, caller.tenant, stores)
    return _answer(workflow_id, caller, stores)


@router.post(
    "/workflows/{workflow_id}/resume",
    summary="Resume a PAUSED or FAILED workflow",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def resume_workflow(
    workflow_id: WorkflowIdPath, caller: CallerDep, stores: StoresDep, machines: WorkflowMachinesDep
) -> Workflow:
    """→ RUNNING: failed, skipped and never-run steps run; completed steps keep their outputs."""
    workflows.resume(workflow_id, caller.tenant, stores, machines)
    return _answer(workflow_id, caller, stores)


@router.post(
    "/workflows/{workflow_id}/cancel",
    summary="Cancel a workflow",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def cancel_workflow(
    workflow_id: WorkflowIdPath, caller: CallerDep, stores: StoresDep, machines: WorkflowMachinesDep
) -> Workflow:
    """PENDING, RUNNING or PAUSED → CANCELLED: running steps' jobs (and Batch jobs) are stopped."""
    workflows.cancel(workflow_id, caller.tenant, stores, machines)
    return _answer(workflow_id, caller, stores)


@router.post(
    "/workflows/{workflow_id}/steps/{step_id}/retry",
    summary="Retry one failed step",
    responses={404: {"description": "Unknown workflow, or it has no such step"}, 409: ERRORS[409]},
)
def retry_step(
    workflow_id: WorkflowIdPath,
    step_id: StepIdPath,
    caller: CallerDep,
    stores: StoresDep,
    machines: WorkflowMachinesDep,
) -> Workflow:
    """Run a FAILED step (and the steps it kept from running) again, in a FAILED or PAUSED workflow."""
    workflows.retry_step(workflow_id, step_id, caller.tenant, stores, machines)
    return _answer(workflow_id, caller, stores)


@router.post(
    "/workflows/{workflow_id}/cleanup",
    summary="Delete a finished workflow's intermediate outputs",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def cleanup_workflow(workflow_id: WorkflowIdPath, caller: CallerDep, stores: StoresDep) -> CleanupResult:
    """Delete the output files of steps that others depend on; the final steps' outputs and every record
    stay."""
    record, steps, deleted, errors = workflows.cleanup(workflow_id, caller.tenant, stores)
    return CleanupResult(
        workflow=Workflow.from_records(record, steps), deleted_file_ids=deleted, errors=errors
    )
