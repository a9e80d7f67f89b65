"""Execution task use cases: idempotent mark started, finalize and mark failed, releasing the inputs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from stratus.errors import IllegalTransitionError
from stratus.models.executions import ExecutionError, ExecutionRecord, ExecutionStatus, TaskFailure
from stratus.services import executions, files
from stratus.settings import Settings
from stratus.stores import Stores

from tests.gpu_worker.conftest import TENANT, new_execution

# As Step Functions' .sync puts a failed job in the cause: DescribeJobs' job, in PascalCase.
KILLED = TaskFailure.model_validate(
    {
        "Error": "States.TaskFailed",
        "Cause": '{"JobId": "job-1", "Status": "FAILED", '
        '"StatusReason": "Essential container in task exited", '
        '"Attempts": [{"Container": {"ExitCode": 137}}]}',
    }
)


def _running(stores: Stores) -> ExecutionRecord:
    record = new_execution(stores, "algorithm-1", [])
    stores.executions.mark_started(record.execution_id)
    return stores.executions.mark_running(record.execution_id, "cpu")


def test_mark_started_moves_pending_to_started(stores: Stores) -> None:
    record = new_execution(stores, "algorithm-1", [])

    started = executions.mark_started(record.execution_id, stores)

    assert started.status is ExecutionStatus.STARTED


def test_mark_started_leaves_a_started_record_unchanged(stores: Stores) -> None:
    record = new_execution(stores, "algorithm-1", [])
    first = executions.mark_started(record.execution_id, stores)

    again = executions.mark_started(record.execution_id, stores)

    assert again == first


def test_mark_started_rejects_a_stopped_execution(stores: Stores) -> None:
    record = new_execution(stores, "algorithm-1", [])
    stores.executions.stop(record.execution_id)

    with pytest.raises(IllegalTransitionError):
        executions.mark_started(record.execution_id, stores)


def test_finalize_returns_a_completed_record_unchanged(stores: Stores) -> None:
    record = _running(stores)
    completed = stores.executions.finish(record.execution_id, [])

    finalized = executions.finalize(record.execution_id, stores)

    assert finalized == completed


def test_finalize_fails_a_record_the_worker_left_running(stores: Stores) -> None:
    record = _running(stores)

    finalized = executions.finalize(record.execution_id, stores)

    assert finalized.status is ExecutionStatus.FAILED
    assert finalized.error is not None and finalized.error.type == executions.WORKER_EXITED


def test_mark_failed_records_the_batch_failure(stores: Stores) -> None:
    record = _running(stores)

    failed = executions.mark_failed(record.execution_id, KILLED, stores)

    assert failed.status is ExecutionStatus.FAILED
    assert failed.error is not None and failed.error.type == "States.TaskFailed"
    assert "exit code 137" in failed.error.message
    assert "exit code 137" in failed.log


def test_mark_failed_leaves_a_final_record_unchanged(stores: Stores) -> None:
    record = _running(stores)
    failed = stores.executions.fail(record.execution_id, ExecutionError(type="ValueError", message="bad"))

    again = executions.mark_failed(record.execution_id, KILLED, stores)

    assert again == failed


def _holding(stores: Stores, settings: Settings, body: bytes) -> ExecutionRecord:
    """A RUNNING execution holding its one input, as the API accepted it."""
    file_id = files.store_ready(body, TENANT, stores, settings).file_id
    record = new_execution(stores, "algorithm-1", [file_id])
    files.hold_inputs(record.execution_id, [file_id], stores)
    stores.executions.mark_started(record.execution_id)
    return stores.executions.mark_running(record.execution_id, "cpu")


@pytest.mark.parametrize("end", ["completed", "left-running"])
def test_finalize_releases_the_inputs(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes], end: str
) -> None:
    record = _holding(stores, settings, hdf5_file())
    if end == "completed":
        stores.executions.finish(record.execution_id, [])

    executions.finalize(record.execution_id, stores)

    assert stores.files.get(record.input_dataset_ids[0]).held_by == frozenset()


@pytest.mark.parametrize("end", ["failed-by-worker", "running"])
def test_mark_failed_releases_the_inputs(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes], end: str
) -> None:
    record = _holding(stores, settings, hdf5_file())
    if end == "failed-by-worker":
        stores.executions.fail(record.execution_id, ExecutionError(type="ValueError", message="bad"))

    executions.mark_failed(record.execution_id, KILLED, stores)

    assert stores.files.get(record.input_dataset_ids[0]).held_by == frozenset()


def test_finalize_retried_releases_once(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = _holding(stores, settings, hdf5_file())
    other = new_execution(stores, "algorithm-1", record.input_dataset_ids)
    files.hold_inputs(other.execution_id, record.input_dataset_ids, stores)
    executions.finalize(record.execution_id, stores)

    executions.finalize(record.execution_id, stores)

    assert stores.files.get(record.input_dataset_ids[0]).held_by == {other.execution_id}
