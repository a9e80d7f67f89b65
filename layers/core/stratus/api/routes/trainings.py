"""Trainings API (Compox's /train-algorithm and /training routes, plus list, extend and logs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from stratus.api.deps import (
    CallerDep,
    CursorQuery,
    IdempotencyKeyHeader,
    LimitQuery,
    LogFromQuery,
    LogLimitQuery,
    PreferHeader,
    SettingsDep,
    StoresDep,
    TagsDep,
    TrainingMachineDep,
    ended_within,
    wait_seconds,
)
from stratus.models.ids import TrainingId
from stratus.models.jobs import JobStatus, JobStopped, LogPage
from stratus.models.trainings import (
    Training,
    TrainingCreate,
    TrainingExtend,
    TrainingPage,
    TrainingStarted,
    TrainingUpdate,
)
from stratus.services import jobs, webhooks
from stratus.services import trainings as service

router = APIRouter(tags=["trainings"])

TrainingIdPath = Annotated[TrainingId, Path()]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown training, algorithm, minor version, checkpoint, sample or file"},
    409: {"description": "A file is not READY, the training's status forbids it, or the key was reused"},
    422: {"description": "Not trainable, bad parameters, device, rounds or selection"},
}


@router.post("/train-algorithm", summary="Train an algorithm on samples", responses=ERRORS)
def train_algorithm(
    body: TrainingCreate,
    caller: CallerDep,
    stores: StoresDep,
    machine: TrainingMachineDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
    prefer: PreferHeader = None,
) -> TrainingStarted | Training:
    """Check the samples, algorithm, parameters and chain, then queue the training (PENDING). With
    `Prefer: wait=N`, answer with the whole record if it ends within N seconds."""
    webhooks.check_subscription(body, settings.allow_private_webhook_targets)
    training_id = service.train(body, caller.tenant, stores, machine, idempotency_key)
    ended = ended_within(wait_seconds(prefer), training_id, stores.trainings, response)
    if ended is None:
        return TrainingStarted(training_id=training_id)
    return Training.from_record(ended, stores.clock())


@router.get("/training", summary="List trainings, newest first")
def list_trainings(
    caller: CallerDep,
    stores: StoresDep,
    tags: TagsDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: JobStatus | None = None,
) -> TrainingPage:
    """One page of the caller's trainings, optionally of one status and tags."""
    records, next_cursor = stores.trainings.list_recent(caller.tenant, limit, cursor, status, tags=tags)
    now = stores.clock()
    return TrainingPage(items=[Training.from_record(r, now) for r in records], next_cursor=next_cursor)


@router.get(
    "/training/{training_id}",
    summary="A training's status, steps, ETA and checkpoints",
    responses={404: ERRORS[404]},
)
def get_training(training_id: TrainingIdPath, caller: CallerDep, stores: StoresDep) -> Training:
    """The training record, with its rounds and best checkpoint."""
    return Training.from_record(stores.trainings.get(training_id, caller.tenant), stores.clock())


@router.patch(
    "/training/{training_id}",
    summary="Change a queued training's priority",
    responses={404: ERRORS[404], 409: {"description": "The training is not queued (PENDING)"}},
)
def update_training(
    training_id: TrainingIdPath, body: TrainingUpdate, caller: CallerDep, stores: StoresDep
) -> Training:
    """Set the priority of a PENDING training: higher takes the tenant's next free running slot first."""
    record = jobs.set_priority(training_id, caller.tenant, body.priority, stores.trainings, stores)
    return Training.from_record(record, stores.clock())


@router.post(
    "/training/{training_id}/stop", summary="Stop a training", responses={404: ERRORS[404], 409: ERRORS[409]}
)
def stop_training(
    training_id: TrainingIdPath, caller: CallerDep, stores: StoresDep, machine: TrainingMachineDep
) -> JobStopped:
    """Stop a PENDING, STARTED or RUNNING training; it ends STOPPED and keeps every checkpoint saved."""
    record = service.stop(training_id, caller.tenant, stores, machine)
    return JobStopped(detail=f"Training {record.training_id} is {record.status.value}.")


@router.post(
    "/training/{training_id}/extend",
    summary="Add rounds with new samples to an ended chain",
    responses=ERRORS,
)
def extend_training(
    training_id: TrainingIdPath,
    body: TrainingExtend,
    caller: CallerDep,
    stores: StoresDep,
    machine: TrainingMachineDep,
) -> TrainingStarted:
    """A new training that continues the chain from its best checkpoint on the new samples."""
    return TrainingStarted(training_id=service.extend(training_id, body, caller.tenant, stores, machine))


@router.get("/training/{training_id}/logs", summary="A training's log lines", responses={404: ERRORS[404]})
def training_logs(
    training_id: TrainingIdPath,
    caller: CallerDep,
    stores: StoresDep,
    from_line: LogFromQuery = 0,
    limit: LogLimitQuery = 1000,
) -> LogPage:
    """Lines from `from_line` on; ask again from `next_line` to follow the log."""
    record = stores.trainings.get(training_id, caller.tenant)
    return stores.trainings.read_log(record, from_line, limit)
