"""run_execution in-process against moto: the deployed fixture package to a final status."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from stratus.errors import IllegalTransitionError, NotFoundError
from stratus.models.executions import ExecutionStatus
from stratus.models.files import FileStatus
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.jobs import run_execution

from .conftest import SCALE_OFFSET, TENANT, read_dataset


def test_run_execution_completes_with_ready_output(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    input_id = upload(data=np.full((2, 3), 2.0, dtype=np.float32))
    execution = make_execution([input_id], additional_parameters={"factor": 3.0})

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.COMPLETED
    assert final.progress == 1.0
    assert final.resolved_execution_device == "cpu"
    (output_id,) = final.output_dataset_ids
    output = stores.files.get(output_id, TENANT)
    assert output.status is FileStatus.READY
    data = read_dataset(stores.objects.get(output.s3_key), "data")
    np.testing.assert_allclose(data, np.full((2, 3), 2.0 * 3.0 + SCALE_OFFSET))


def test_run_execution_writes_the_algorithms_log(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.zeros(3))])

    final = run_execution(execution.execution_id, stores, settings)

    assert "INFO Loading the scale assets." in final.log
    assert "INFO Postprocessing the scale output." in final.log


def test_run_execution_fails_with_error_and_traceback(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.zeros(3))], additional_parameters={"label": "explode"})

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None
    assert (final.error.type, final.error.message) == ("RuntimeError", "inference exploded on purpose")
    assert "Traceback (most recent call last)" in final.log
    assert "Runner.py" in final.log
    assert final.output_dataset_ids == []


def test_run_execution_stops_on_a_stop_request(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.zeros(3))])
    stores.executions.request_stop(execution.execution_id)

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.STOPPED
    assert final.output_dataset_ids == []


def test_run_execution_rejects_unknown_id(stores: Stores, settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="execution not found"):
        run_execution("no-such-execution", stores, settings)


def test_run_execution_fails_for_missing_input(stores: Stores, settings: Settings, make_execution) -> None:
    execution = make_execution(["00000000-0000-4000-8000-000000000000"])

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None and final.error.type == "NotFoundError"


def test_run_execution_fails_for_unknown_checkpoint(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.zeros(3))], checkpoint_id="no-such-checkpoint")

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None
    assert final.error.message == "checkpoint no-such-checkpoint not found"


def test_run_execution_fails_for_unknown_minor_version(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.zeros(3))], algorithm_minor_version="7")

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None and "no minor version 7" in final.error.message


def test_run_execution_returns_final_record_unchanged(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.zeros(3))])
    stopped = stores.executions.stop(execution.execution_id)

    final = run_execution(execution.execution_id, stores, settings)

    assert final == stopped


def test_run_execution_refuses_execution_running_elsewhere(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.zeros(3))])
    stores.executions.mark_started(execution.execution_id)
    stores.executions.mark_running(execution.execution_id, "cpu")

    with pytest.raises(IllegalTransitionError):
        run_execution(execution.execution_id, stores, settings)


def test_run_execution_unloads_the_runner(stores: Stores, settings: Settings, upload, make_execution) -> None:
    execution = make_execution([upload(data=np.zeros(3))])

    run_execution(execution.execution_id, stores, settings)

    assert not [name for name in sys.modules if name.startswith("_stratus_algorithm_")]
