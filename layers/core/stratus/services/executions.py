"""Execution use cases for the execution state machine's tasks: mark started, finalize, mark failed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratus.models.executions import (
    ExecutionError,
    FinalizeTask,
    MarkFailedTask,
    MarkStartedTask,
    is_terminal,
)
from stratus.services import holds, jobs, telemetry, webhooks

if TYPE_CHECKING:
    from stratus.models.executions import ExecutionRecord, ExecutionTask, TaskFailure
    from stratus.stores import Stores

# The error type a record gets when its Batch job ended but the worker never wrote a final status
# (killed, out of memory, or a crash before it could mark the record).
WORKER_EXITED = "WorkerExitedError"


def run_task(task: ExecutionTask, stores: Stores) -> ExecutionRecord:
    """Run one state machine task. Raises NotFoundError, IllegalTransitionError."""
    if isinstance(task, MarkStartedTask):
        return mark_started(task.execution_id, stores)
    if isinstance(task, FinalizeTask):
        return finalize(task.execution_id, stores)
    if isinstance(task, MarkFailedTask):
        return mark_failed(task.execution_id, task.error, stores)
    raise TypeError(f"unknown execution task {type(task).__name__}")  # unreachable: the union is closed


def mark_started(execution_id: str, stores: Stores) -> ExecutionRecord:
    """PENDING → STARTED (a retried task finds it STARTED or RUNNING) and the inputs tagged held.

    Raises NotFoundError, IllegalTransitionError (already final: stopped before it ran).
    """
    return jobs.mark_started(execution_id, stores.executions, lambda r: r.input_dataset_ids, stores)


def finalize(execution_id: str, stores: Stores) -> ExecutionRecord:
    """Confirm the record is final after its job (one the worker left unfinished ends FAILED), and
    release its algorithm version and inputs.

    Raises NotFoundError.
    """
    record = stores.executions.get(execution_id)
    if not is_terminal(record.status):
        error = ExecutionError(
            type=WORKER_EXITED, message=f"the worker exited while the execution was {record.status.value}"
        )
        record = jobs.fail_unless_final(execution_id, stores.executions, error)
    return _release(record, stores)


def mark_failed(execution_id: str, failure: TaskFailure, stores: Stores) -> ExecutionRecord:
    """End the record FAILED with the state machine's error (a final record stays as it is), and
    release its algorithm version and inputs.

    Raises NotFoundError.
    """
    record = jobs.fail_unless_final(execution_id, stores.executions, jobs.failure_error(failure))
    return _release(record, stores)


def _release(record: ExecutionRecord, stores: Stores) -> ExecutionRecord:
    # Every end of the state machine's run passes through finalize or mark_failed; releasing twice (a
    # retried task, or after a stop) is harmless.
    holds.release_job(
        holds.holder_of("execution", record.execution_id), record, record.input_dataset_ids, stores
    )
    telemetry.count_ended("execution", record)
    webhooks.notify_end("execution", record, stores, record.output_dataset_ids)
    return record
