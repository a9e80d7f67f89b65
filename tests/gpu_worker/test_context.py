"""ExecutionContext over moto: inputs and outputs, planned assets, throttled progress, batched log (tail
and log items), stop polls, sessions, and what only trainings may do."""

from __future__ import annotations

from pathlib import Path

import boto3
import numpy as np
import pytest
from stratus.algorithms import StopRequested
from stratus.errors import ConflictError, IllegalTransitionError, NotFoundError, NotReadyError
from stratus.models.algorithms import AlgorithmVersionRecord
from stratus.models.executions import ExecutionRecord, ExecutionStatus
from stratus.models.files import FileStatus, ObjectCreated, UploadCreate
from stratus.services.files import start_upload, store_upload
from stratus.services.ingestion import ingest_object
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.context import LOG_FLUSH_INTERVAL_S, MIN_WRITE_INTERVAL_S, ExecutionContext

from .conftest import TENANT, hdf5_bytes, new_execution, read_dataset

STOPPED = "Execution stopped."


@pytest.fixture
def running(stores: Stores, scale_version: AlgorithmVersionRecord) -> ExecutionRecord:
    record = new_execution(stores, scale_version.algorithm_id, [], session_token="session-1")
    stores.executions.mark_started(record.execution_id)
    return stores.executions.mark_running(record.execution_id, {"resolved_execution_device": "cpu"})


@pytest.fixture
def package_dir(tmp_path: Path) -> Path:
    """The staged package: its planned asset, and a file on disk the plan does not list."""
    package = tmp_path / "package"
    (package / "files").mkdir(parents=True)
    (package / "files" / "offset.txt").write_text("1.5")
    (package / "files" / "unplanned.txt").write_text("secret")
    return package


@pytest.fixture
def context(
    running: ExecutionRecord, stores: Stores, settings: Settings, package_dir: Path
) -> ExecutionContext:
    return ExecutionContext(running, stores, settings, package_dir, "cpu")


def _progress(stores: Stores, context: ExecutionContext) -> float:
    return stores.executions.get(context.execution_id).progress


def test_set_progress_writes_first_update(stores: Stores, context: ExecutionContext) -> None:
    context.set_progress(0.1)

    assert _progress(stores, context) == 0.1


def test_set_progress_skips_updates_within_the_interval(
    stores: Stores, context: ExecutionContext, clock
) -> None:
    context.set_progress(0.1)
    clock.advance(MIN_WRITE_INTERVAL_S / 2)

    context.set_progress(0.2)

    assert _progress(stores, context) == 0.1


def test_set_progress_writes_again_after_the_interval(
    stores: Stores, context: ExecutionContext, clock
) -> None:
    context.set_progress(0.1)
    clock.advance(MIN_WRITE_INTERVAL_S)

    context.set_progress(0.3)

    assert _progress(stores, context) == 0.3


def test_set_progress_always_writes_completion(stores: Stores, context: ExecutionContext) -> None:
    context.set_progress(0.1)

    context.set_progress(1.0)

    assert _progress(stores, context) == 1.0


def test_log_lines_wait_for_a_flush(stores: Stores, context: ExecutionContext) -> None:
    context.log("INFO", "hello")

    assert stores.executions.get(context.execution_id).log == ""


def test_flush_appends_queued_lines(stores: Stores, context: ExecutionContext, clock) -> None:
    context.log("INFO", "hello")
    context.log("WARNING", "careful")

    context.flush()

    lines = stores.executions.get(context.execution_id).log.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["INFO hello", "WARNING careful"]


def test_log_flushes_once_the_interval_passed(stores: Stores, context: ExecutionContext, clock) -> None:
    context.log("INFO", "first")
    clock.advance(LOG_FLUSH_INTERVAL_S)

    context.log("INFO", "second")

    assert stores.executions.get(context.execution_id).log.count("\n") == 2


def test_flush_stores_whole_lines_as_log_items(stores: Stores, context: ExecutionContext) -> None:
    for number in range(3):
        context.log("INFO", f"line {number}")

    context.flush()

    record = stores.executions.get(context.execution_id)
    page = stores.executions.read_log(record, 1, 10)
    assert record.log_lines == 3
    assert [(line.line, line.text.split(" ", 1)[1]) for line in page.lines] == [
        (1, "INFO line 1"),
        (2, "INFO line 2"),
    ]
    assert page.next_line == 3


def test_raise_if_stop_requested_sees_a_request(stores: Stores, context: ExecutionContext) -> None:
    stores.executions.request_stop(context.execution_id)

    with pytest.raises(StopRequested):
        context.raise_if_stop_requested()


def test_raise_if_stop_requested_polls_at_most_once_per_interval(
    stores: Stores, context: ExecutionContext, clock
) -> None:
    context.raise_if_stop_requested()
    stores.executions.request_stop(context.execution_id)

    context.raise_if_stop_requested()  # within the interval: no read, so no stop yet
    clock.advance(MIN_WRITE_INTERVAL_S)

    with pytest.raises(StopRequested):
        context.raise_if_stop_requested()


def test_progress_write_to_stopped_execution_means_stop(stores: Stores, context: ExecutionContext) -> None:
    stores.executions.stop(context.execution_id, STOPPED)
    context.set_progress(0.5)

    with pytest.raises(StopRequested):
        context.raise_if_stop_requested()


def test_read_data_returns_ready_input(
    stores: Stores, settings: Settings, context: ExecutionContext, upload
) -> None:
    file_id = upload(data=np.arange(4))

    body = context.read_data(file_id)

    np.testing.assert_array_equal(read_dataset(body, "data"), np.arange(4))


def test_read_data_reads_the_bytes_that_became_ready(
    stores: Stores, settings: Settings, context: ExecutionContext
) -> None:
    body = hdf5_bytes(data=np.arange(4))
    key = f"uploads/{start_upload(UploadCreate(size=len(body)), TENANT, stores, settings).file_id}"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=settings.data_bucket, Key=key, Body=body)
    ready = ingest_object(
        ObjectCreated(bucket=settings.data_bucket, key=key, size=len(body)), stores, settings
    )
    assert ready is not None
    # The presigned URL used again, before ingestion has removed what it wrote.
    s3.put_object(Bucket=settings.data_bucket, Key=key, Body=hdf5_bytes(data=np.zeros(4)))

    read = context.read_data(ready.file_id)

    assert read == body


def test_read_data_rejects_other_tenants_file(
    stores: Stores, settings: Settings, context: ExecutionContext
) -> None:
    other = store_upload(hdf5_bytes(data=np.arange(4)), "someone-else", stores, settings)

    with pytest.raises(NotFoundError):
        context.read_data(other.file_id)


def test_read_data_rejects_pending_file(
    stores: Stores, settings: Settings, context: ExecutionContext
) -> None:
    pending = start_upload(UploadCreate(size=100), TENANT, stores, settings)

    with pytest.raises(NotReadyError):
        context.read_data(pending.file_id)


def test_write_data_stores_ready_file_of_the_tenant(stores: Stores, context: ExecutionContext) -> None:
    file_id = context.write_data(hdf5_bytes(data=np.ones(2)))

    record = stores.files.get(file_id, TENANT)
    assert record.status is FileStatus.READY
    assert context.output_ids == [file_id]


def test_read_asset_reads_staged_asset(context: ExecutionContext) -> None:
    assert context.read_asset("./files/offset.txt") == b"1.5"


def test_read_asset_rejects_unknown_path(context: ExecutionContext) -> None:
    with pytest.raises(NotFoundError):
        context.read_asset("files/../../etc/passwd")


def test_read_asset_rejects_a_staged_file_the_plan_does_not_list(context: ExecutionContext) -> None:
    with pytest.raises(NotFoundError):
        context.read_asset("files/unplanned.txt")


def test_scratch_dir_is_a_private_directory_beside_the_package(
    context: ExecutionContext, package_dir: Path
) -> None:
    scratch = context.scratch_dir()

    assert scratch.is_dir() and scratch.parent == package_dir.parent and scratch != package_dir
    assert context.scratch_dir() == scratch


def test_session_put_then_get_round_trips(context: ExecutionContext) -> None:
    context.session_put("cache", {"embedding": [1, 2, 3]})

    assert context.session_get("cache") == {"embedding": [1, 2, 3]}


def test_session_is_shared_by_executions_with_the_token(
    stores: Stores, settings: Settings, running: ExecutionRecord, context: ExecutionContext, tmp_path: Path
) -> None:
    context.session_put("cache", 42)
    later = new_execution(stores, running.algorithm_id, [], session_token="session-1")

    other = ExecutionContext(later, stores, settings, tmp_path, "cpu")

    assert other.session_get("cache") == 42


def test_session_get_missing_item_raises_key_error(context: ExecutionContext) -> None:
    with pytest.raises(KeyError):
        context.session_get("absent")


def test_session_delete_removes_item(context: ExecutionContext) -> None:
    context.session_put("cache", 1)

    context.session_delete("cache")

    with pytest.raises(KeyError):
        context.session_get("cache")


def test_session_delete_missing_item_raises_key_error(context: ExecutionContext) -> None:
    with pytest.raises(KeyError):
        context.session_delete("absent")


def test_save_checkpoint_is_refused_outside_training(context: ExecutionContext) -> None:
    with pytest.raises(ConflictError):
        context.save_checkpoint({"files/weights.pt": b""}, {})


def test_read_samples_is_refused_outside_training(context: ExecutionContext) -> None:
    with pytest.raises(ConflictError):
        context.read_samples(["sample-1"])


def test_validation_sample_ids_are_empty_outside_training(context: ExecutionContext) -> None:
    assert context.validation_sample_ids() == []


def test_set_steps_writes_steps_as_progress(stores: Stores, context: ExecutionContext) -> None:
    context.set_steps(3, 12)

    assert _progress(stores, context) == 0.25


def test_mark_running_records_the_device(
    stores: Stores, settings: Settings, scale_version: AlgorithmVersionRecord, tmp_path: Path
) -> None:
    record = new_execution(stores, scale_version.algorithm_id, [])
    stores.executions.mark_started(record.execution_id)
    context = ExecutionContext(record, stores, settings, tmp_path, "cpu")

    context.mark_running()

    running = stores.executions.get(record.execution_id)
    assert (running.status, running.resolved_execution_device) == (ExecutionStatus.RUNNING, "cpu")


def test_mark_running_answer_carries_a_requested_stop(
    stores: Stores, settings: Settings, scale_version: AlgorithmVersionRecord, tmp_path: Path
) -> None:
    record = new_execution(stores, scale_version.algorithm_id, [])
    stores.executions.mark_started(record.execution_id)
    context = ExecutionContext(record, stores, settings, tmp_path, "cpu")
    stores.executions.request_stop(record.execution_id)

    with pytest.raises(StopRequested):
        context.mark_running()

    assert stores.executions.get(record.execution_id).status is ExecutionStatus.RUNNING


def test_finish_writes_queued_lines_with_completion(stores: Stores, context: ExecutionContext) -> None:
    context.log("INFO", "last words")

    record = context.finish(["file-1"])

    assert record.status is ExecutionStatus.COMPLETED and "last words" in record.log


def test_finish_after_a_stop_still_keeps_queued_lines(stores: Stores, context: ExecutionContext) -> None:
    context.log("INFO", "last words")
    stores.executions.stop(context.execution_id, STOPPED)

    with pytest.raises(IllegalTransitionError):
        context.finish(["file-1"])

    record = stores.executions.get(context.execution_id)
    assert record.status is ExecutionStatus.STOPPED and "last words" in record.log
