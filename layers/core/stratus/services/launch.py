"""Execution use cases of the API: accept a request (all checks up front), start its run, stop it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import uuid
from typing import TYPE_CHECKING

from stratus.algorithms import AlgorithmConfig, validate_parameters
from stratus.errors import (
    AlreadyExistsError,
    ConflictError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
)
from stratus.models.executions import ExecutionError, ExecutionRecord
from stratus.models.idempotency import IdempotencyRecord
from stratus.services import files

if TYPE_CHECKING:
    from stratus.models.executions import ExecutionCreate
    from stratus.stores import StateMachineStore, Stores

# How long an execution record stays readable after it was accepted.
EXECUTION_LIFETIME_SECONDS = 7 * 86_400
# A retry comes within minutes; a day covers a client that retries after an outage.
IDEMPOTENCY_LIFETIME_SECONDS = 86_400
# The device names the worker understands (gpu_worker.compute.device), plus Compox's "mps".
DEVICE_NAME = re.compile(r"^(?P<kind>cpu|mps|gpu|cuda)(?::\d+)?$")
STOP_CAUSE = "stop requested through the API"


def execute(
    request: ExecutionCreate,
    tenant: str,
    stores: Stores,
    machine: StateMachineStore,
    idempotency_key: str | None = None,
) -> str:
    """Check the request, store a PENDING record and start its state machine run; returns its id.

    With ``idempotency_key``, a retry of the same request returns the first one's id.
    Raises NotFoundError, NotReadyError, InvalidInputError, ConflictError (key used with another body).
    """
    record, device = _prepare(request, tenant, stores)
    if idempotency_key is None:
        _launch(record, device, stores, machine)
        return record.execution_id
    now = stores.clock()
    holder = stores.idempotency.claim(
        IdempotencyRecord(
            tenant=tenant,
            key=idempotency_key,
            request_hash=_request_hash(request),
            resource_id=record.execution_id,
            created_at=now,
            expires_at=int(now) + IDEMPOTENCY_LIFETIME_SECONDS,
        )
    )
    if holder.request_hash != _request_hash(request):
        raise ConflictError("this Idempotency-Key was used with a different request body")
    if holder.resource_id != record.execution_id:
        if _exists(holder.resource_id, stores):
            return holder.resource_id
        # The first attempt claimed the key but stopped before storing its record: finish its work.
        record = record.model_copy(update={"execution_id": holder.resource_id})
    # A concurrent retry with the same key may store the record first; its run stands.
    with contextlib.suppress(AlreadyExistsError):
        _launch(record, device, stores, machine)
    return record.execution_id


def stop(execution_id: str, tenant: str, stores: Stores, machine: StateMachineStore) -> ExecutionRecord:
    """Flag the execution for a cooperative stop, stop its run, and end the record STOPPED.

    Raises NotFoundError, IllegalTransitionError (already final).
    """
    stores.executions.request_stop(execution_id, tenant)
    machine.stop(execution_id, STOP_CAUSE)
    # Stopping the run terminates its Batch job, and no Finalize follows: a worker killed before it saw
    # the flag would leave the record live for ever, so it is ended here whatever its live status.
    try:
        record = stores.executions.stop(execution_id, "Execution stopped through the API.")
    except IllegalTransitionError:
        record = stores.executions.get(execution_id)  # the worker ended it first; that end stands
    # For the same reason the inputs are released here.
    files.release_inputs(execution_id, record.input_dataset_ids, stores)
    return record


def _prepare(request: ExecutionCreate, tenant: str, stores: Stores) -> tuple[ExecutionRecord, str]:
    """The record to store and the run's device ("cuda" or "cpu").

    Raises NotFoundError, NotReadyError, InvalidInputError.
    """
    for file_id in request.input_dataset_ids:
        files.get_ready(file_id, tenant, stores)
    minor = request.algorithm_minor_version
    version = stores.algorithms.get_version_by_id(request.algorithm_id, int(minor) if minor else None)
    if request.checkpoint_id is not None:
        # Checkpoints arrive with training; until then no id can name one.
        raise NotFoundError(f"checkpoint {request.checkpoint_id} not found")
    config = AlgorithmConfig.model_validate(version.metadata)
    device = _run_device(config, request.execution_device_override)
    validate_parameters(config.additional_parameters, request.additional_parameters)
    now = stores.clock()
    record = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=tenant,
        algorithm_id=request.algorithm_id,
        # Pinned, so a deploy between acceptance and start does not change what runs.
        algorithm_minor_version=str(version.minor),
        checkpoint_id=request.checkpoint_id,
        input_dataset_ids=request.input_dataset_ids,
        execution_device_override=request.execution_device_override,
        additional_parameters=request.additional_parameters,
        session_token=request.session_token or secrets.token_urlsafe(24),
        created_at=now,
        expires_at=int(now) + EXECUTION_LIFETIME_SECONDS,
    )
    return record, device


def _run_device(config: AlgorithmConfig, override: str | None) -> str:
    """ "cuda" when the requested device is a GPU one, else "cpu"; the worker resolves the actual one.

    Raises InvalidInputError (unknown name, or a device the algorithm does not support).
    """
    requested = override or config.default_device or "cpu"
    match = DEVICE_NAME.match(requested.strip().lower())
    if match is None:
        raise InvalidInputError(f"unknown device {requested!r}; use 'cpu', 'gpu', 'cuda' or 'cuda:N'")
    kind = "gpu" if match["kind"] == "cuda" else match["kind"]
    if kind != "cpu" and kind not in config.supported_devices:
        supported = ", ".join(config.supported_devices)
        raise InvalidInputError(
            f"the algorithm does not support device {requested!r}; it supports {supported}"
        )
    return "cuda" if kind == "gpu" else "cpu"


def _launch(record: ExecutionRecord, device: str, stores: Stores, machine: StateMachineStore) -> None:
    """Store the PENDING record, hold its inputs, then start its run.

    Raises AlreadyExistsError (record already stored), NotFoundError (an input deleted since the checks).
    """
    stores.executions.create(record)
    try:
        # Held before the run starts, so no input expires (or is deleted) under it; the run's end releases.
        files.hold_inputs(record.execution_id, record.input_dataset_ids, stores)
        machine.start(record.execution_id, {"execution_id": record.execution_id, "device": device})
    except Exception as exc:
        # Nothing would ever move a record whose run did not start: it ends FAILED, and the error goes on.
        _fail_unstarted(record, exc, stores)
        raise


def _fail_unstarted(record: ExecutionRecord, exc: Exception, stores: Stores) -> None:
    error = ExecutionError(type=type(exc).__name__, message="the execution's state machine run did not start")
    # Stopped in the meantime: that end stands.
    with contextlib.suppress(IllegalTransitionError):
        stores.executions.fail(record.execution_id, error)
    files.release_inputs(record.execution_id, record.input_dataset_ids, stores)


def _exists(execution_id: str, stores: Stores) -> bool:
    try:
        stores.executions.get(execution_id)
    except NotFoundError:
        return False
    return True


def _request_hash(request: ExecutionCreate) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
