"""Execution use cases of the API: accept a request (all checks up front, one transaction), stop it."""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

from stratus.models.executions import ExecutionInput, ExecutionRecord
from stratus.models.webhooks import subscription_fields
from stratus.services import files, jobs

if TYPE_CHECKING:
    from stratus.models.executions import ExecutionCreate
    from stratus.stores import StateMachineStore, Stores

# How long an execution record stays readable after it was accepted.
EXECUTION_LIFETIME_SECONDS = 7 * 86_400


def execute(
    request: ExecutionCreate,
    tenant: str,
    stores: Stores,
    machine: StateMachineStore | None,
    idempotency_key: str | None = None,
) -> str:
    """Check the request, store a PENDING record with its plan and start its state machine run; returns
    its id. With ``idempotency_key``, a retry of the same request returns the first one's id.

    Raises NotFoundError, NotReadyError, InvalidInputError, ConflictError (key used with another body).
    """
    inputs = files.get_ready_many(request.input_dataset_ids, tenant, stores)
    plan, _ = jobs.plan_job(
        jobs.algorithm_id_of(request, tenant, stores),
        request.algorithm_minor_version,
        request.checkpoint_id,
        request.additional_parameters,
        request.execution_device_override,
        tenant,
        stores,
    )
    now = stores.clock()
    record = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=tenant,
        algorithm_id=plan.algorithm_id,
        # Pinned, so a deploy between acceptance and start does not change what runs.
        algorithm_minor_version=str(plan.algorithm_minor),
        checkpoint_id=request.checkpoint_id,
        input_dataset_ids=request.input_dataset_ids,
        execution_device_override=request.execution_device_override,
        additional_parameters=plan.parameters,
        plan=plan,
        session_token=request.session_token or secrets.token_urlsafe(24),
        priority=request.priority,
        **subscription_fields(request),
        created_at=now,
        expires_at=int(now) + EXECUTION_LIFETIME_SECONDS,
    )
    run_input = ExecutionInput(execution_id=record.execution_id, device=plan.device.kind)
    key = (idempotency_key, jobs.request_hash(request)) if idempotency_key else None
    return jobs.accept(record, stores.executions, inputs, machine, run_input.model_dump(), stores, key)


def stop(execution_id: str, tenant: str, stores: Stores, machine: StateMachineStore) -> ExecutionRecord:
    """Flag the execution for a cooperative stop, stop its run, and end the record STOPPED.

    Raises NotFoundError, IllegalTransitionError (already final).
    """
    record = stores.executions.get(execution_id, tenant)
    return jobs.stop(execution_id, tenant, stores.executions, machine, record.input_dataset_ids, stores)
