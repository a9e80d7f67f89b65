"""Training use cases: accept (samples, checks and chain planned up front), stop, extend, and the
training state machine's tasks (prepare, select best, finalize, mark failed)."""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from stratus.errors import ConflictError, IllegalTransitionError
from stratus.models.jobs import BatchScheduling, JobError, is_terminal
from stratus.models.samples import Sample, file_ids_of
from stratus.models.trainings import (
    ChainStep,
    FinalizeTrainingTask,
    MarkTrainingFailedTask,
    PrepareTrainingTask,
    Round,
    SelectBestTask,
    TrainingInput,
    TrainingRecord,
)
from stratus.models.webhooks import subscription_fields
from stratus.services import files, holds, jobs, telemetry, webhooks

if TYPE_CHECKING:
    from stratus.models.checkpoints import CheckpointRecord
    from stratus.models.files import FileRecord
    from stratus.models.jobs import JobPlan, TaskFailure
    from stratus.models.samples import SampleRecord
    from stratus.models.trainings import TrainingCreate, TrainingExtend, TrainingTask
    from stratus.stores import StateMachineStore, Stores

# Trainings and their chains are kept longer than executions: a chain may run for days.
TRAINING_LIFETIME_SECONDS = 30 * 86_400
# What an extension of a chain keeps of it; the plan starts from its best checkpoint.
EXTENSION_KEEPS = {
    "tenant",
    "algorithm_id",
    "validation_data",
    "tags",
    "execution_device_override",
    "selection",
    "webhook_url",
    "webhook_events",
    "priority",
}


def train(
    request: TrainingCreate,
    tenant: str,
    stores: Stores,
    machine: StateMachineStore | None,
    idempotency_key: str | None,
) -> str:
    """Check everything statically checkable, store a PENDING training with its plan and rounds, hold
    its samples' files, and start its state machine run; returns its id.

    Raises NotFoundError (algorithm, version, checkpoint, sample or file), NotReadyError, InvalidInputError
    (not trainable, bad parameters or device), ConflictError (Idempotency-Key reused).
    """
    record, inputs = _prepare(request, tenant, stores)
    key = (idempotency_key, jobs.request_hash(request)) if idempotency_key else None
    return _accept(record, inputs, machine, stores, key)


def _prepare(request: TrainingCreate, tenant: str, stores: Stores) -> tuple[TrainingRecord, list[FileRecord]]:
    samples = stores.samples.get_all(request.training_data + request.validation_data, tenant)
    inputs = _sample_files(samples, tenant, stores)
    plan, _ = jobs.plan_job(
        jobs.algorithm_id_of(request, tenant, stores),
        request.algorithm_minor_version,
        request.checkpoint_id,
        request.additional_parameters or {},
        request.execution_device_override,
        tenant,
        stores,
        schema="training_parameters",
    )
    record = _new_training(
        samples,
        stores,
        tenant=tenant,
        algorithm_id=plan.algorithm_id,
        plan=plan,
        training_data=request.training_data,
        validation_data=request.validation_data,
        tags=request.tags,
        execution_device_override=request.execution_device_override,
        selection=request.selection,
        **subscription_fields(request),
        rounds=split_rounds(request.training_data, request.rounds, request.round_size),
        priority=request.priority,
    )
    return record, inputs


def _new_training(samples: list[SampleRecord], stores: Stores, **fields: Any) -> TrainingRecord:
    """A PENDING training with ``fields`` (its algorithm, plan, data, tags and chain settings); what
    follows from the plan and the samples is filled in, everything else starts afresh."""
    now = stores.clock()
    plan: JobPlan = fields["plan"]
    return TrainingRecord(
        training_id=str(uuid.uuid4()),
        algorithm_minor_version=str(plan.algorithm_minor),
        checkpoint_id=plan.checkpoint_id,
        additional_parameters=plan.parameters,
        # Compox's SampleRecord shape, which the runtime's TrainingSample reads.
        samples={s.sample_id: Sample.from_record(s).model_dump(mode="json") for s in samples},
        created_at=now,
        expires_at=int(now) + TRAINING_LIFETIME_SECONDS,
        **fields,
    )


def _accept(
    record: TrainingRecord,
    inputs: list[FileRecord],
    machine: StateMachineStore | None,
    stores: Stores,
    key: tuple[str, str] | None = None,
) -> str:
    run_input = TrainingInput(training_id=record.training_id, device=record.plan.device.kind)
    return jobs.accept(record, stores.trainings, inputs, machine, run_input.model_dump(), stores, key)


def _sample_files(samples: list[SampleRecord], tenant: str, stores: Stores) -> list[FileRecord]:
    return files.get_ready_many([f for s in samples for f in s.file_ids()], tenant, stores)


def split_rounds(
    sample_ids: list[str], rounds: int | None, round_size: int | None, first: int = 0
) -> list[Round]:
    """The chain's rounds: the samples in order, in ``rounds`` nearly equal parts or parts of
    ``round_size``; one round of everything when neither is asked for."""
    unique = list(dict.fromkeys(sample_ids))
    if round_size is not None:
        parts = [unique[start : start + round_size] for start in range(0, len(unique), round_size)]
    else:
        count = rounds or 1
        # The first len % count rounds take one sample more, so exactly `count` rounds are made.
        cuts = [i * (len(unique) // count) + min(i, len(unique) % count) for i in range(count + 1)]
        parts = [unique[cuts[i] : cuts[i + 1]] for i in range(count)]
    return [Round(index=first + i, sample_ids=part) for i, part in enumerate(parts)]


def stop(training_id: str, tenant: str, stores: Stores, machine: StateMachineStore) -> TrainingRecord:
    """Stop a training at any point of its chain; it ends STOPPED with every checkpoint it saved.

    Raises NotFoundError, IllegalTransitionError (already final).
    """
    record = stores.trainings.get(training_id, tenant)
    return jobs.stop(training_id, tenant, stores.trainings, machine, input_ids(record), stores)


def extend(
    training_id: str, request: TrainingExtend, tenant: str, stores: Stores, machine: StateMachineStore
) -> str:
    """Continue an ended chain with new samples: a new training whose rounds start from the chain's best
    checkpoint (seed 001: new data makes new learnuplets); returns its id.

    Raises NotFoundError, ConflictError (the chain has not ended, or saved no checkpoint).
    """
    previous = stores.trainings.get(training_id, tenant)
    if not is_terminal(previous.status):
        raise ConflictError(f"training {training_id} is {previous.status.value}; extend it once it has ended")
    # A chain stopped mid-round never selected among that round's checkpoints: its newest one stands.
    newest = previous.output_checkpoint_ids[-1] if previous.output_checkpoint_ids else None
    start = previous.best_checkpoint_id or newest or previous.checkpoint_id
    if start is None:
        raise ConflictError(f"training {training_id} saved no checkpoint to continue from")
    samples = stores.samples.get_all(request.training_data + previous.validation_data, tenant)
    inputs = _sample_files(samples, tenant, stores)
    checkpoint = stores.checkpoints.get(start, tenant)
    first = previous.rounds[-1].index + 1 if previous.rounds else 0
    record = _new_training(
        samples,
        stores,
        **previous.model_dump(include=EXTENSION_KEEPS),
        plan=previous.plan.model_copy(update={"checkpoint_id": start, "assets": checkpoint.assets}),
        training_data=request.training_data,
        rounds=split_rounds(request.training_data, request.rounds, request.round_size, first),
        extends_training_id=training_id,
        best_checkpoint_id=start,
        best_metric=previous.best_metric,
    )
    return _accept(record, inputs, machine, stores)


def input_ids(record: TrainingRecord) -> list[str]:
    return file_ids_of([item for manifest in record.samples.values() for item in manifest["files"]])


# --- The training state machine's tasks --------------------------------------------------------------


def run_task(task: TrainingTask, stores: Stores) -> ChainStep:
    """Run one training task. Raises NotFoundError, IllegalTransitionError."""
    if isinstance(task, PrepareTrainingTask):
        return prepare(task.training_id, stores)
    if isinstance(task, SelectBestTask):
        return select_best(task.training_id, task.round, stores)
    if isinstance(task, FinalizeTrainingTask):
        return finalize(task.training_id, stores)
    if isinstance(task, MarkTrainingFailedTask):
        return mark_failed(task.training_id, task.error, stores)
    raise TypeError(f"unknown training task {type(task).__name__}")  # unreachable: the union is closed


def prepare(training_id: str, stores: Stores) -> ChainStep:
    """PENDING → STARTED (a retried task finds it STARTED or RUNNING) and the inputs tagged held; the
    chain starts at its first round. Raises NotFoundError, IllegalTransitionError (already final)."""
    return _step(jobs.mark_started(training_id, stores.trainings, input_ids, stores), 0)


def select_best(training_id: str, round_position: int, stores: Stores) -> ChainStep:
    """After round ``round_position`` (its place in the chain): the best checkpoint so far by the
    selection metric (else the newest), and whether another round follows. Raises NotFoundError."""
    record = stores.trainings.get(training_id)
    if is_terminal(record.status):
        return _step(record, round_position, done=True)
    # One batched read; a checkpoint deleted since it was saved is left out.
    found = stores.checkpoints.get_many(record.rounds[round_position].checkpoint_ids, record.tenant)
    saved = [found[i] for i in record.rounds[round_position].checkpoint_ids if i in found]
    best_id, best_metric = record.best_checkpoint_id, record.best_metric
    for checkpoint in saved:
        if _is_better(checkpoint, best_metric, record):
            best_id = checkpoint.checkpoint_id
            best_metric = _metric(checkpoint, record)
    with contextlib.suppress(IllegalTransitionError):  # ended meanwhile: the chain is done either way
        record = stores.trainings.update_active(
            training_id, {"best_checkpoint_id": best_id, "best_metric": best_metric}
        )
    following = round_position + 1
    return _step(record, following, done=following >= len(record.rounds) or is_terminal(record.status))


def _metric(checkpoint: CheckpointRecord, record: TrainingRecord) -> float | None:
    if record.selection is None:
        return None
    value = checkpoint.properties.get(record.selection.metric)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _is_better(checkpoint: CheckpointRecord, best: float | None, record: TrainingRecord) -> bool:
    # Without a selection metric the newest checkpoint is the best; a checkpoint lacking the metric never
    # displaces one that has it.
    if record.selection is None:
        return True
    value = _metric(checkpoint, record)
    if value is None:
        return best is None and record.best_checkpoint_id in (None, record.checkpoint_id)
    if best is None:
        return True
    return value < best if record.selection.mode == "min" else value > best


def finalize(training_id: str, stores: Stores) -> ChainStep:
    """After the last round: COMPLETED when it saved a checkpoint (else FAILED, as Compox), and its
    algorithm version and inputs released. A final record stays as it is. Raises NotFoundError."""
    record = stores.trainings.get(training_id)
    if not is_terminal(record.status):
        try:
            if record.output_checkpoint_ids:
                record = stores.trainings.complete(training_id, {})
            else:
                error = JobError(type="NoCheckpointError", message="the training saved no checkpoint")
                record = jobs.fail_unless_final(training_id, stores.trainings, error)
        except IllegalTransitionError:
            record = stores.trainings.get(training_id)
    return _release(record, stores)


def mark_failed(training_id: str, failure: TaskFailure, stores: Stores) -> ChainStep:
    """End the training FAILED with the state machine's error (a final record stays as it is), and
    release its algorithm version and inputs. Raises NotFoundError."""
    return _release(
        jobs.fail_unless_final(training_id, stores.trainings, jobs.failure_error(failure)), stores
    )


def _release(record: TrainingRecord, stores: Stores) -> ChainStep:
    holds.release_job(holds.holder_of("training", record.training_id), record, input_ids(record), stores)
    telemetry.count_ended("training", record)
    webhooks.notify_end("training", record, stores, record.output_checkpoint_ids)
    return _step(record, len(record.rounds), done=True)


def _step(record: TrainingRecord, position: int, done: bool = False) -> ChainStep:
    return ChainStep(
        training_id=record.training_id,
        round=position,
        done=done,
        status=record.status,
        scheduling=BatchScheduling.of(record),
    )
