"""Executions API (Compox's /execute-algorithm and /executions routes, plus stop)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from stratus.api.deps import (
    CallerDep,
    CursorQuery,
    ExecutionDep,
    ExecutionIdPath,
    ExecutionMachineDep,
    IdempotencyKeyHeader,
    LimitQuery,
    LogFromQuery,
    LogLimitQuery,
    PreferHeader,
    SettingsDep,
    StoresDep,
    ended_within,
    wait_seconds,
)
from stratus.models.executions import (
    Execution,
    ExecutionCreate,
    ExecutionPage,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionStopped,
    ExecutionUpdate,
)
from stratus.models.ids import AlgorithmId
from stratus.models.jobs import LogPage
from stratus.services import jobs, launch, webhooks

router = APIRouter(tags=["executions"])

ERRORS = {
    404: {"description": "Unknown or expired execution, input file, algorithm, minor version or checkpoint"},
    409: {"description": "An input file is not READY, the execution is final, or the key was reused"},
    422: {"description": "Unsupported device or invalid additional parameters"},
}


@router.post(
    "/execute-algorithm",
    summary="Run an algorithm on input files",
    responses={k: ERRORS[k] for k in (404, 409, 422)},
)
def execute_algorithm(
    body: ExecutionCreate,
    caller: CallerDep,
    stores: StoresDep,
    machine: ExecutionMachineDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
    prefer: PreferHeader = None,
) -> ExecutionStarted | Execution:
    """Check the inputs, algorithm, device and parameters, then queue the execution (PENDING). With
    `Prefer: wait=N`, answer with the whole record if it ends within N seconds."""
    webhooks.check_subscription(body, settings.allow_private_webhook_targets)
    execution_id = launch.execute(body, caller.tenant, stores, machine, idempotency_key)
    ended = ended_within(wait_seconds(prefer), execution_id, stores.executions, response)
    return ExecutionStarted(execution_id=execution_id) if ended is None else Execution.from_record(ended)


@router.get("/executions", summary="List executions, newest first")
def list_executions(
    caller: CallerDep,
    stores: StoresDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: ExecutionStatus | None = None,
    algorithm_id: Annotated[AlgorithmId | None, Query()] = None,
) -> ExecutionPage:
    """One page of the caller's live executions, optionally of one status and algorithm."""
    records, next_cursor = stores.executions.list_recent(
        caller.tenant, limit, cursor, status, match={"algorithm_id": algorithm_id}
    )
    return ExecutionPage(items=[Execution.from_record(r) for r in records], next_cursor=next_cursor)


@router.get(
    "/executions/{execution_id}",
    summary="An execution's status, progress and log",
    responses={404: ERRORS[404]},
)
async def get_execution(execution: ExecutionDep) -> Execution:
    """The execution record, with its outputs once COMPLETED."""
    return Execution.from_record(execution)


@router.patch(
    "/executions/{execution_id}",
    summary="Change a queued execution's priority",
    responses={404: ERRORS[404], 409: {"description": "The execution is not queued (PENDING)"}},
)
def update_execution(
    execution_id: ExecutionIdPath, body: ExecutionUpdate, caller: CallerDep, stores: StoresDep
) -> Execution:
    """Set the priority of a PENDING execution: higher takes the tenant's next free running slot first."""
    record = jobs.set_priority(execution_id, caller.tenant, body.priority, stores.executions, stores)
    return Execution.from_record(record)


@router.post(
    "/executions/{execution_id}/stop",
    summary="Stop an execution",
    responses={404: ERRORS[404], 409: {"description": "The execution is already final"}},
)
def stop_execution(
    execution_id: ExecutionIdPath, caller: CallerDep, stores: StoresDep, machine: ExecutionMachineDep
) -> ExecutionStopped:
    """Stop a PENDING, STARTED or RUNNING execution; it ends STOPPED."""
    record = launch.stop(execution_id, caller.tenant, stores, machine)
    return ExecutionStopped(detail=f"Execution {record.execution_id} is {record.status.value}.")


@router.get(
    "/executions/{execution_id}/logs", summary="An execution's log lines", responses={404: ERRORS[404]}
)
def execution_logs(
    execution: ExecutionDep, stores: StoresDep, from_line: LogFromQuery = 0, limit: LogLimitQuery = 1000
) -> LogPage:
    """Lines from `from_line` on; ask again from `next_line` to follow the log."""
    return stores.executions.read_log(execution, from_line, limit)
