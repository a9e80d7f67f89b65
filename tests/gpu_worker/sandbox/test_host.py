"""The algorithm's process seen from the worker: however it ends (a report, an exit, a signal, a crash),
the job gets a clear final status, and nothing it started outlives the job or the worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from stratus.models.executions import ExecutionRecord, ExecutionStatus
from stratus.services import files
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.jobs import run_execution
from tests.gpu_worker.conftest import TENANT, deploy_folder, hdf5_bytes, new_execution, read_dataset

MISBEHAVING = Path(__file__).resolve().parents[1] / "packages" / "misbehaving"
TIMEOUT_S = 60
SERVER_PATHS = ("/work/", "site-packages", "stratus/", "gpu_worker/", "/tmp/")


def _misbehaving(stores: Stores, settings: Settings, behaviour: str) -> ExecutionRecord:
    version = deploy_folder(MISBEHAVING, stores, settings)
    input_id = files.store_upload(hdf5_bytes(data=np.arange(3.0)), TENANT, stores, settings).file_id
    parameters = {"behaviour": behaviour}
    return new_execution(stores, version.algorithm_id, [input_id], additional_parameters=parameters)


@pytest.fixture
def misbehave(stores: Stores, settings: Settings) -> Callable[[str], ExecutionRecord]:
    """``misbehave(behaviour)``: a PENDING execution of the misbehaving package."""
    return lambda behaviour: _misbehaving(stores, settings, behaviour)


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_until(predicate: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


def _sandbox_child(worker: int) -> int | None:
    """The algorithm's process the worker ``worker`` started, once it has."""
    children = Path(f"/proc/{worker}/task/{worker}/children").read_text().split()
    for pid in children:
        if b"gpu_worker.sandbox" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return int(pid)
    return None


@pytest.mark.parametrize(
    ("behaviour", "described"),
    [
        ("exit", "exited with status 3"),
        ("segfault", "was killed by SIGSEGV"),
        ("sigkill", "was killed by SIGKILL"),
    ],
)
def test_a_process_that_ends_without_a_report_fails_the_job(
    stores: Stores, settings: Settings, misbehave, behaviour: str, described: str
) -> None:
    final = run_execution(misbehave(behaviour).execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None
    assert final.error.type == "RunnerCrashedError"
    assert described in final.error.message


def test_a_memory_error_fails_the_job_with_its_type(stores: Stores, settings: Settings, misbehave) -> None:
    final = run_execution(misbehave("memory_error").execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None and final.error.type == "MemoryError"
    assert 'File "Runner.py"' in final.log


def test_the_traceback_shows_only_the_packages_frames(stores: Stores, settings: Settings, misbehave) -> None:
    final = run_execution(misbehave("chained_error").execution_id, stores, settings)

    assert final.error is not None
    assert (final.error.type, final.error.message) == ("RuntimeError", "the package failed with a cause")
    assert 'File "Runner.py", line' in final.log
    assert 'File "helpers/failures.py", line' in final.log
    assert "The above exception was the direct cause" in final.log
    assert [path for path in SERVER_PATHS if path in final.log] == []


def test_threads_the_algorithm_leaves_running_do_not_hold_the_job(
    stores: Stores, settings: Settings, misbehave
) -> None:
    final = run_execution(misbehave("linger").execution_id, stores, settings)

    assert final.status is ExecutionStatus.COMPLETED, final.log


def test_what_the_algorithm_started_ends_with_the_job(stores: Stores, settings: Settings, misbehave) -> None:
    final = run_execution(misbehave("grandchild").execution_id, stores, settings)

    assert final.status is ExecutionStatus.COMPLETED, final.log
    output = stores.objects.get(stores.files.get(final.output_dataset_ids[0], TENANT).s3_key)
    runner, grandchild = (int(pid) for pid in read_dataset(output, "data"))
    _wait_until(lambda: not _is_running(runner), "the algorithm's process ended")
    _wait_until(lambda: not _is_running(grandchild), "the process it started ended")


def test_postprocess_cannot_claim_files_the_job_did_not_write(
    stores: Stores, settings: Settings, misbehave
) -> None:
    final = run_execution(misbehave("foreign_output").execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None and final.error.type == "InvalidInputError"
    assert final.output_dataset_ids == []


def test_state_with_numpy_values_reaches_the_worker_as_numbers(
    stores: Stores, settings: Settings, misbehave
) -> None:
    final = run_execution(misbehave("state").execution_id, stores, settings)

    assert final.status is ExecutionStatus.COMPLETED, final.log
    output = stores.objects.get(stores.files.get(final.output_dataset_ids[0], TENANT).s3_key)
    np.testing.assert_array_equal(read_dataset(output, "data"), [3])


@pytest.mark.e2e
@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL])
def test_the_algorithms_process_dies_with_the_worker(
    server_stores: tuple[Stores, Settings, dict[str, str]], tmp_path: Path, kill: signal.Signals
) -> None:
    stores, settings, environment = server_stores
    execution = _misbehaving(stores, settings, "busy")  # never polls: only its worker's end ends it
    worker = subprocess.Popen(  # noqa: S603  # our own module, with the current interpreter
        [sys.executable, "-m", "gpu_worker", "run-execution", execution.execution_id],
        env={**os.environ, **environment},
        cwd=tmp_path,
    )
    try:
        runner = _wait_until(lambda: _sandbox_child(worker.pid), "the worker started the algorithm")
        _wait_until(
            lambda: stores.executions.get(execution.execution_id).status is ExecutionStatus.RUNNING, "RUNNING"
        )

        folder = _job_folder(int(runner))

        worker.send_signal(kill)  # as Batch's TerminateJob (SIGTERM), or the OOM killer
        worker.wait(TIMEOUT_S)

        _wait_until(lambda: not _is_running(int(runner)), "the algorithm's process ended")
    finally:
        worker.kill()
    shutil.rmtree(folder, ignore_errors=True)  # what a killed worker cannot remove itself


def _job_folder(runner: int) -> Path:
    """The job folder of an algorithm's process, from its plan on its command line."""
    arguments = Path(f"/proc/{runner}/cmdline").read_bytes().split(b"\0")
    plan = next(argument for argument in arguments if argument.startswith(b"{"))
    return Path(json.loads(plan)["job_dir"])


@pytest.mark.e2e
def test_a_terminated_worker_ends_by_the_signal_leaving_no_job_folder(
    server_stores: tuple[Stores, Settings, dict[str, str]], tmp_path: Path
) -> None:
    stores, settings, environment = server_stores
    execution = _misbehaving(stores, settings, "busy")
    worker = subprocess.Popen(  # noqa: S603  # our own module, with the current interpreter
        [sys.executable, "-m", "gpu_worker", "run-execution", execution.execution_id],
        env={**os.environ, **environment},
        cwd=tmp_path,
    )
    try:
        runner = int(_wait_until(lambda: _sandbox_child(worker.pid), "the worker started the algorithm"))
        folder = _job_folder(runner)
        _wait_until(
            lambda: stores.executions.get(execution.execution_id).status is ExecutionStatus.RUNNING, "RUNNING"
        )

        worker.terminate()  # Batch's TerminateJob

        assert worker.wait(TIMEOUT_S) == -signal.SIGTERM
        assert not folder.exists()
        assert not _is_running(runner)
    finally:
        worker.kill()
