"""Execution task use cases: idempotent mark started (tagging the inputs held), finalize and mark failed,
releasing the inputs."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import boto3
import pytest
from stratus.errors import IllegalTransitionError
from stratus.models.executions import ExecutionError, ExecutionRecord, ExecutionStatus, TaskFailure
from stratus.services import executions, files, holds
from stratus.settings import Settings
from stratus.stores import Stores

from tests.conftest import job_plan
from tests.gpu_worker.conftest import TENANT

# As Step Functions' .sync puts a failed job in the cause: DescribeJobs' job, in PascalCase.
KILLED = TaskFailure.model_validate(
    {
        "Error": "States.TaskFailed",
        "Cause": '{"JobId": "job-1", "Status": "FAILED", '
        '"StatusReason": "Essential container in task exited", '
        '"Attempts": [{"Container": {"ExitCode": 137}}]}',
    }
)


def _record(stores: Stores, input_ids: list[str]) -> ExecutionRecord:
    now = stores.clock()
    return ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=TENANT,
        algorithm_id="algorithm-1",
        input_dataset_ids=input_ids,
        created_at=now,
        expires_at=int(now) + 86_400,
        plan=job_plan(),
    )


def _pending(stores: Stores, input_ids: list[str] | None = None) -> ExecutionRecord:
    """A stored PENDING execution (these tasks read only the record, so the plan is a dummy)."""
    record = _record(stores, input_ids or [])
    stores.executions.create(record)
    return record


def _running(stores: Stores) -> ExecutionRecord:
    record = _pending(stores)
    stores.executions.mark_started(record.execution_id)
    return stores.executions.mark_running(record.execution_id, {"resolved_execution_device": "cpu"})


def _holder(record: ExecutionRecord) -> str:
    return holds.holder_of("execution", record.execution_id)


def _tags(settings: Settings, key: str) -> dict[str, str]:
    tag_set = boto3.client("s3").get_object_tagging(Bucket=settings.data_bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def test_mark_started_moves_pending_to_started(stores: Stores) -> None:
    record = _pending(stores)

    started = executions.mark_started(record.execution_id, stores)

    assert started.status is ExecutionStatus.STARTED


def test_mark_started_leaves_a_started_record_unchanged(stores: Stores) -> None:
    record = _pending(stores)
    first = executions.mark_started(record.execution_id, stores)

    again = executions.mark_started(record.execution_id, stores)

    assert again == first


def test_mark_started_rejects_a_stopped_execution(stores: Stores) -> None:
    record = _pending(stores)
    stores.executions.stop(record.execution_id, "Execution stopped.")

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


def _accepted(stores: Stores, input_ids: list[str]) -> ExecutionRecord:
    """A PENDING execution stored with the holds on its inputs in one transaction, as the API accepts it."""
    record = _record(stores, input_ids)
    inputs = files.get_ready_many(input_ids, TENANT, stores)
    holds.transact_with_holds(
        [stores.executions.create_write(record)],
        holds.hold_writes(inputs, _holder(record), stores.clock(), stores),
        stores,
    )
    return record


def _holding(stores: Stores, settings: Settings, body: bytes) -> ExecutionRecord:
    """A RUNNING execution holding its one input, as the API accepted it and the steps started it."""
    file_id = files.store_ready(body, TENANT, stores, settings).file_id
    record = _accepted(stores, [file_id])
    executions.mark_started(record.execution_id, stores)
    return stores.executions.mark_running(record.execution_id, {"resolved_execution_device": "cpu"})


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
    other = _accepted(stores, record.input_dataset_ids)
    executions.finalize(record.execution_id, stores)

    executions.finalize(record.execution_id, stores)

    assert stores.files.get(record.input_dataset_ids[0]).held_by == {_holder(other)}


def test_mark_started_tags_the_inputs_held(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_record = files.store_ready(hdf5_file(), TENANT, stores, settings)
    record = _accepted(stores, [file_record.file_id])

    executions.mark_started(record.execution_id, stores)

    assert _tags(settings, file_record.s3_key) == {"stratus-lifetime": "held"}
    assert stores.files.get(file_record.file_id).held_by == {_holder(record)}


def test_finalize_tags_released_inputs_temporary(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = _holding(stores, settings, hdf5_file())
    stores.executions.finish(record.execution_id, [])

    executions.finalize(record.execution_id, stores)

    s3_key = stores.files.get(record.input_dataset_ids[0]).s3_key
    assert _tags(settings, s3_key) == {"stratus-lifetime": "temporary"}
