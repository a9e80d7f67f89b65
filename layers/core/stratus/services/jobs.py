"""Job use cases shared by executions and trainings: plan once, accept atomically, stop, fail unstarted."""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from stratus.algorithms import AlgorithmConfig, validate_parameters
from stratus.devices import decide_device
from stratus.errors import (
    ConflictError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    RunSlotsBusyError,
)
from stratus.models.idempotency import IdempotencyRecord
from stratus.models.jobs import JobError, JobPlan, JobRecord, JobStatus, is_terminal
from stratus.models.webhooks import WebhookEvent
from stratus.services import environments, files, holds, quotas, telemetry, webhooks
from stratus.stores.quotas import waiting_order

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

    from stratus.models.algorithms import AlgorithmRef
    from stratus.models.files import FileRecord
    from stratus.models.jobs import TaskFailure
    from stratus.stores import StateMachineStore, Stores
    from stratus.stores.jobs import JobStore

J = TypeVar("J", bound=JobRecord)

# A retry comes within minutes; a day covers a client that retries after an outage.
IDEMPOTENCY_LIFETIME_SECONDS = 86_400
# A hold's guess about a file's expiry is wrong only when the file changed since the batched read (a hold
# of another second, a release): each retry reads again, so concurrent accepts of one file converge.
MAX_ACCEPT_ATTEMPTS = 5
STOP_CAUSE = "stop requested through the API"
# `Prefer: wait=N` reads the record this often (one consistent GetItem each) while the job runs.
WAIT_POLL_S = 0.25
# A Batch failure's cause is the whole DescribeJobs answer; the record keeps a readable summary.
MAX_CAUSE_CHARS = 2000


def algorithm_id_of(request: AlgorithmRef, tenant: str, stores: Stores) -> str:
    """The id of the algorithm a request names, by id or by name and major (the caller's own of that
    name, else the built-in). Raises NotFoundError for a name ``tenant`` cannot see."""
    if request.algorithm_id is not None:
        return request.algorithm_id
    name, major = request.algorithm_name, request.algorithm_major_version
    assert name is not None and major is not None  # AlgorithmRef's validator
    return stores.algorithms.resolve(name, major, tenant).algorithm_id


def plan_job(
    algorithm_id: str,
    minor: str | None,
    checkpoint_id: str | None,
    parameters: dict[str, Any],
    device_override: str | None,
    tenant: str,
    stores: Stores,
    schema: Literal["additional_parameters", "training_parameters"] = "additional_parameters",
) -> tuple[JobPlan, AlgorithmConfig]:
    """Resolve what a job runs: the pinned version (a built-in's or ``tenant``'s own: another tenant's id
    is not found), the checkpoint's assets, the parameters with their defaults and the device.

    Raises NotFoundError, InvalidInputError, NotReadyError (its environment is BUILDING),
    EnvironmentFailedError."""
    version = stores.algorithms.get_version_by_id(algorithm_id, tenant, int(minor) if minor else None)
    if version.environment is not None:
        # No job is accepted that is certain to fail: its dependencies must be installed first.
        environments.require_ready(version.environment, stores)
    if schema == "training_parameters" and not version.trainable:
        raise InvalidInputError(
            f"algorithm {version.name} {version.major} (minor {version.minor}, id {algorithm_id}) is not "
            "trainable: its Runner has no train()"
        )
    config = AlgorithmConfig.model_validate(version.metadata)
    assets = dict(version.assets)
    if checkpoint_id is not None:
        checkpoint = stores.checkpoints.get(checkpoint_id, tenant)
        if checkpoint.parent_algorithm_id != algorithm_id:
            raise InvalidInputError(
                f"checkpoint {checkpoint_id} was trained from algorithm {checkpoint.parent_algorithm_id}, "
                f"not {algorithm_id}"
            )
        assets.update(checkpoint.assets)
    plan = JobPlan(
        algorithm_id=algorithm_id,
        algorithm_owner=version.owner,
        algorithm_name=version.name,
        algorithm_major=version.major,
        algorithm_minor=version.minor,
        code_key=version.code_key,
        environment=version.environment,
        assets=assets,
        checkpoint_id=checkpoint_id,
        parameters=validate_parameters(
            getattr(config, schema), parameters, schema.removesuffix("s").replace("_", " ")
        ),
        device=decide_device(config.supported_devices, config.default_device, device_override),
    )
    return plan, config


def request_hash(request: BaseModel) -> str:
    """A request body's fingerprint, to tell a retry from another request under the same key."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def accept(
    record: J,
    store: JobStore[J],
    inputs: list[FileRecord],
    machine: StateMachineStore | None,
    machine_input: dict[str, Any],
    stores: Stores,
    idempotency: tuple[str, str] | None = None,
) -> str:
    """Store the PENDING record, the idempotency key, the hold on its algorithm version and the input
    holds in one transaction, then start the job's state machine run; returns the job's id (a retry's:
    the first request's). Without ``machine`` the caller starts the run (a workflow's Map does).

    ``idempotency`` is (key, request hash). Raises NotFoundError (also: the version was deleted since it
    was read), NotReadyError (an input changed since it was read), ConflictError (the key was used with
    another body).
    """
    job_id = str(getattr(record, store.id_field))
    holder = holds.holder_of(store.job_kind, job_id)
    writes = [store.create_write(record)]
    if idempotency is not None:
        now = stores.clock()
        key, digest = idempotency
        claim = IdempotencyRecord(
            tenant=record.tenant,
            key=key,
            request_hash=digest,
            resource_id=job_id,
            created_at=now,
            expires_at=int(now) + IDEMPOTENCY_LIFETIME_SECONDS,
        )
        writes.append(stores.idempotency.claim_write(claim))
    # Counted against the tenant's queued cap in the same transaction: two accepts can't both take the
    # last place.
    writes.append(stores.quotas.admit_write(record.tenant, holder))
    quota_write = len(writes) - 1
    # The version's delete is conditional on no holder, and this write on the version still existing: of
    # an accept and a delete racing, never both go through (DynamoDB serializes the two transactions).
    version_hold = holds.version_hold_write(record.plan, holder, stores)
    if version_hold is not None:
        writes.append(version_hold)
    for attempt in range(MAX_ACCEPT_ATTEMPTS):
        try:
            holds.transact_with_holds(
                writes, holds.hold_writes(inputs, holder, stores.clock(), stores), stores
            )
            break
        except holds.TransactionFailed as failed:
            if idempotency is not None and failed.reasons[1] == "ConditionalCheckFailed":
                return _first_request(record.tenant, *idempotency, stores)
            if version_hold is not None and failed.reasons[len(writes) - 1] == "ConditionalCheckFailed":
                plan = record.plan
                raise NotFoundError(
                    f"algorithm {plan.algorithm_id} minor version {plan.algorithm_minor} was deleted"
                ) from failed
            if failed.reasons[quota_write] == "ConditionalCheckFailed":
                quotas.refuse_or_repair(record.tenant, stores)  # 429, unless ended jobs held places
                continue
            if not failed.holds_failed or attempt == MAX_ACCEPT_ATTEMPTS - 1:
                raise ConflictError("the request raced another change; try again") from failed
            # An input changed since it was read: read again (missing and unready ones raise here).
            inputs = files.get_ready_many([f.file_id for f in inputs], record.tenant, stores)
    else:  # every attempt raced (here only when a repaired quota kept filling up again)
        raise ConflictError("the request raced other requests; try again")
    if machine is not None:
        _start_run(job_id, store, inputs, machine, machine_input, stores)
    return job_id


def _start_run(
    job_id: str,
    store: JobStore[J],
    inputs: list[FileRecord],
    machine: StateMachineStore,
    machine_input: dict[str, Any],
    stores: Stores,
) -> None:
    try:
        machine.start(job_id, machine_input)
    except Exception as exc:
        # Nothing would ever move a record whose run did not start: it ends FAILED, and the error goes on.
        fail_unstarted(job_id, store, [f.file_id for f in inputs], exc, stores)
        raise


def _first_request(tenant: str, key: str, digest: str, stores: Stores) -> str:
    first = stores.idempotency.get(tenant, key)
    if first.request_hash != digest:
        raise ConflictError("this Idempotency-Key was used with a different request body")
    return first.resource_id


def fail_unstarted(
    job_id: str, store: JobStore[J], input_ids: list[str], exc: Exception, stores: Stores
) -> None:
    """End a job whose state machine run did not start FAILED, and release its version and inputs."""
    error = JobError(
        type=type(exc).__name__, message=f"the {store.job_kind}'s state machine run did not start"
    )
    try:
        record = store.fail(job_id, error)
    except IllegalTransitionError:
        record = store.get(job_id)  # stopped in the meantime: that end stands
    webhooks.notify_end(store.job_kind, record, stores)
    holds.release_job(holds.holder_of(store.job_kind, job_id), record, input_ids, stores)


def stop(
    job_id: str,
    tenant: str,
    store: JobStore[J],
    machine: StateMachineStore | None,
    input_ids: list[str],
    stores: Stores,
    message: str | None = None,
) -> J:
    """Flag the job for a cooperative stop, end the record STOPPED (noting ``message``), then stop its
    run (unless ``machine`` is None: the caller stopped it) and release its version and inputs. The
    STOPPED write decides against the worker's final write: a job that ended first keeps its end and its
    run (which finalizes it), and the stop is refused.

    Raises NotFoundError, IllegalTransitionError (already final).
    """
    store.request_stop(job_id, tenant)
    try:
        record = store.stop(job_id, message or f"{store.job_kind.capitalize()} stopped through the API.")
    except IllegalTransitionError:
        record = store.get(job_id)
        if record.status is not JobStatus.STOPPED:  # the worker (or the state machine) ended it first
            raise IllegalTransitionError(
                f"{store.job_kind} {job_id} ended {record.status.value} before it could be stopped"
            ) from None
    # Queued only (never sent here): a receiver that is down cannot hold up the stop.
    webhooks.notify_job(store.job_kind, record, WebhookEvent.STOPPED, stores)
    # Stopping the run terminates its Batch job, and no finalizing task follows: hence the STOPPED write
    # first, whatever the worker saw of the flag.
    if machine is not None:
        machine.stop(job_id, STOP_CAUSE)
    holds.release_job(holds.holder_of(store.job_kind, job_id), record, input_ids, stores)
    return record


# --- What both state machines' tasks do -------------------------------------------------------------


def mark_started(job_id: str, store: JobStore[J], input_ids: Callable[[J], list[str]], stores: Stores) -> J:
    """PENDING → STARTED once the tenant has a running slot for it (a record already STARTED or RUNNING is
    returned unchanged: a retried task), and the inputs' objects tagged held.

    Raises NotFoundError, IllegalTransitionError (already final), RunSlotsBusyError (the tenant runs its
    cap of jobs: the state machine retries, so the job waits queued).
    """
    record = store.get(job_id)
    if is_terminal(record.status):
        raise IllegalTransitionError(f"{store.job_kind} {job_id} is already {record.status.value}")
    order = waiting_order(record.priority, record.created_at)
    if not quotas.start_running(record.tenant, holds.holder_of(store.job_kind, job_id), order, stores):
        raise RunSlotsBusyError(
            f"tenant {record.tenant} runs {stores.quotas.max_running} jobs, its limit, or queued jobs "
            f"go first: {store.job_kind} {job_id} waits until a slot is its turn"
        )
    if record.status is JobStatus.PENDING:
        try:
            record = store.mark_started(job_id)
            telemetry.count_started(store.job_kind)
            webhooks.notify_job(store.job_kind, record, WebhookEvent.START, stores)
        except IllegalTransitionError:
            record = store.get(job_id)  # a concurrent attempt moved it on first
    if is_terminal(record.status):
        raise IllegalTransitionError(f"{store.job_kind} {job_id} is already {record.status.value}")
    # Off the accept path: the lifecycle acts in days, so the objects are tagged held well in time.
    inputs = stores.files.get_many(input_ids(record), record.tenant).values()
    holds.tag_held(holds.holder_of(store.job_kind, job_id), inputs, stores)
    return record


def set_priority(job_id: str, tenant: str, priority: int, store: JobStore[J], stores: Stores) -> J:
    """Change a queued (PENDING) job's priority, on its record and on its place in the tenant's queue.

    A job that asks for a slot between the two writes notes itself at its old place; its next attempt
    (within the state machines' retry delay) notes the new one.

    Raises NotFoundError, IllegalTransitionError (the job is no longer PENDING).
    """
    try:
        record = store.set_priority(job_id, tenant, priority)
    except IllegalTransitionError:
        status = store.get(job_id, tenant).status.value
        raise IllegalTransitionError(
            f"{store.job_kind} {job_id} is {status}: only a queued (PENDING) job's priority can change"
        ) from None
    order = waiting_order(record.priority, record.created_at)
    stores.quotas.reorder(tenant, holds.holder_of(store.job_kind, job_id), order)
    return record


def fail_unless_final(job_id: str, store: JobStore[J], error: JobError) -> J:
    """End the job FAILED with ``error``; when the worker (or a stop) made it final first, that end stands.

    Raises NotFoundError.
    """
    try:
        return store.fail(job_id, error)
    except IllegalTransitionError:
        return store.get(job_id)


def failure_error(failure: TaskFailure) -> JobError:
    """The record's error for a state that failed: a Batch job's failure (the DescribeJobs job, as .sync
    puts it in the cause) as one line; other causes as they are, shortened."""
    return JobError(type=failure.error, message=_summary(failure.cause) or failure.error)


def _summary(cause: str) -> str:
    try:
        job: Any = json.loads(cause)
    except ValueError:
        return cause[:MAX_CAUSE_CHARS]
    if not isinstance(job, dict) or _field(job, "status") is None:
        return cause[:MAX_CAUSE_CHARS]
    attempts = _field(job, "attempts") or [{}]
    container = _field(attempts[-1], "container") or _field(job, "container") or {}
    reason = _field(job, "statusReason") or "no reason given"
    return (
        f"Batch job {_field(job, 'jobId')} {_field(job, 'status')}: {reason} "
        f"(exit code {_field(container, 'exitCode')})"
    )


def _field(item: dict[str, Any], name: str) -> Any:
    # Step Functions hands Batch's answer over in PascalCase (ExitCode); the Batch API says exitCode.
    return item.get(name[0].upper() + name[1:], item.get(name))


def wait_for_end(job_id: str, store: JobStore[J], seconds: float) -> J | None:
    """The job's record once it is final, read again every WAIT_POLL_S for up to ``seconds``; None
    when it is still live then (a client's `Prefer: wait=N`)."""
    deadline = time.monotonic() + seconds
    while True:
        record = store.get(job_id)
        if is_terminal(record.status):
            return record
        if time.monotonic() + WAIT_POLL_S > deadline:
            return None
        time.sleep(WAIT_POLL_S)


def exists(job_id: str, store: JobStore[J]) -> bool:
    """Whether a live record of the job exists."""
    try:
        store.get(job_id)
    except NotFoundError:
        return False
    return True
