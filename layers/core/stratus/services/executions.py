"""Execution use cases for the execution state machine's tasks: mark started, finalize, mark failed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from stratus.errors import IllegalTransitionError
from stratus.models.executions import (
    ExecutionError,
    ExecutionStatus,
    FinalizeTask,
    MarkFailedTask,
    MarkStartedTask,
    is_terminal,
)
from stratus.services import holds

if TYPE_CHECKING:
    from stratus.models.executions import ExecutionRecord, ExecutionTask, TaskFailure
    from stratus.stores import Stores

# The error type a record gets when its Batch job ended but the worker never wrote a final status
# (killed, out of memory, or a crash before it could mark the record).
WORKER_EXITED = "WorkerExitedError"
# A Batch failure's cause is the whole DescribeJobs answer; the record keeps a readable summary.
MAX_CAUSE_CHARS = 2000


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
    """PENDING → STARTED; a record already STARTED or RUNNING is returned unchanged (a retried task).

    Raises NotFoundError, IllegalTransitionError (already final: stopped before it ran).
    """
    record = stores.executions.get(execution_id)
    if record.status is ExecutionStatus.PENDING:
        try:
            record = stores.executions.mark_started(execution_id)
        except IllegalTransitionError:
            record = stores.executions.get(execution_id)  # a concurrent attempt moved it on first
    if is_terminal(record.status):
        raise IllegalTransitionError(f"execution {execution_id} is already {record.status.value}")
    # Off the accept path: the lifecycle acts in days, so the objects are tagged held well in time.
    inputs = stores.files.get_many(record.input_dataset_ids, record.tenant).values()
    holds.tag_held(holds.holder_of("execution", execution_id), inputs, stores)
    return record


def finalize(execution_id: str, stores: Stores) -> ExecutionRecord:
    """Confirm the record is final after its job (one the worker left unfinished ends FAILED), and
    release its inputs.

    Raises NotFoundError.
    """
    record = stores.executions.get(execution_id)
    if not is_terminal(record.status):
        error = ExecutionError(
            type=WORKER_EXITED, message=f"the worker exited while the execution was {record.status.value}"
        )
        record = _fail(execution_id, error, stores)
    return _release(record, stores)


def mark_failed(execution_id: str, failure: TaskFailure, stores: Stores) -> ExecutionRecord:
    """End the record FAILED with the state machine's error (a final record stays as it is), and
    release its inputs.

    Raises NotFoundError.
    """
    record = stores.executions.get(execution_id)
    if not is_terminal(record.status):
        error = ExecutionError(type=failure.error, message=_summary(failure.cause) or failure.error)
        record = _fail(execution_id, error, stores)
    return _release(record, stores)


def _fail(execution_id: str, error: ExecutionError, stores: Stores) -> ExecutionRecord:
    try:
        return stores.executions.fail(execution_id, error)
    except IllegalTransitionError:
        # The worker (or a stop) made the record final in the meantime: that end stands.
        return stores.executions.get(execution_id)


def _release(record: ExecutionRecord, stores: Stores) -> ExecutionRecord:
    # Every end of the state machine's run passes through finalize or mark_failed; releasing twice (a
    # retried task, or after a stop) is harmless.
    holds.release(holds.holder_of("execution", record.execution_id), record.input_dataset_ids, stores)
    return record


def _summary(cause: str) -> str:
    """A Batch job's failure (the DescribeJobs job, as .sync puts it in the cause) as one line; other
    causes as they are, shortened."""
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
