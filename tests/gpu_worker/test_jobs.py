"""run_execution in-process against moto: the deployed fixture package, run from its stored plan, to a
final status."""

from __future__ import annotations

import sys
import uuid

import numpy as np
import pytest
import torch
from stratus.errors import IllegalTransitionError, InvalidInputError, NotFoundError
from stratus.models.executions import ExecutionRecord, ExecutionStatus
from stratus.models.files import FileStatus
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.jobs import run_execution

from .conftest import SCALE_OFFSET, TENANT, read_dataset


def _with_plan(stores: Stores, execution: ExecutionRecord, **plan: object) -> ExecutionRecord:
    """Store a copy of ``execution`` whose plan has ``plan``'s values (what the API would not plan)."""
    record = execution.model_copy(
        update={"execution_id": str(uuid.uuid4()), "plan": execution.plan.model_copy(update=plan)}
    )
    stores.executions.create(record)
    return record


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


def test_run_execution_uses_the_planned_parameter_defaults(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.full(2, 1.0, dtype=np.float32))])

    final = run_execution(execution.execution_id, stores, settings)

    assert execution.plan.parameters["factor"] == 2.0
    output = stores.objects.get(stores.files.get(final.output_dataset_ids[0], TENANT).s3_key)
    np.testing.assert_allclose(read_dataset(output, "data"), np.full(2, 1.0 * 2.0 + SCALE_OFFSET))


def test_run_execution_does_not_validate_the_planned_parameters_again(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    planned = make_execution([upload(data=np.full(2, 1.0, dtype=np.float32))])
    # Over the package's maximum (10): only a plan made elsewhere could hold it, and the worker trusts it.
    execution = _with_plan(stores, planned, parameters={**planned.plan.parameters, "factor": 20.0})

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.COMPLETED, final.log
    output = stores.objects.get(stores.files.get(final.output_dataset_ids[0], TENANT).s3_key)
    np.testing.assert_allclose(read_dataset(output, "data"), np.full(2, 20.0 + SCALE_OFFSET))


def test_run_execution_of_a_cuda_plan_runs_on_the_cpu_without_a_card(
    stores: Stores, settings: Settings, upload, make_execution, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    execution = make_execution([upload(data=np.zeros(3))], execution_device_override="gpu")

    final = run_execution(execution.execution_id, stores, settings)

    assert execution.plan.device.kind == "cuda"
    assert final.status is ExecutionStatus.COMPLETED, final.log
    assert final.resolved_execution_device == "cpu"


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


def test_execution_with_unknown_checkpoint_is_refused_when_planned(upload, make_execution) -> None:
    with pytest.raises(NotFoundError, match="checkpoint not found"):
        make_execution([upload(data=np.zeros(3))], checkpoint_id="no-such-checkpoint")


def test_execution_with_unknown_minor_version_is_refused_when_planned(upload, make_execution) -> None:
    with pytest.raises(NotFoundError, match="no minor version 7"):
        make_execution([upload(data=np.zeros(3))], algorithm_minor_version="7")


def test_execution_with_parameters_out_of_range_is_refused_when_planned(upload, make_execution) -> None:
    with pytest.raises(InvalidInputError):
        make_execution([upload(data=np.zeros(3))], additional_parameters={"factor": 20.0})


def test_run_execution_fails_for_a_planned_asset_whose_content_is_gone(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    planned = make_execution([upload(data=np.zeros(3))])
    execution = _with_plan(stores, planned, assets={"files/offset.txt": "0" * 64})

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None and final.error.type == "NotFoundError"


def test_run_execution_fails_for_planned_code_that_is_gone(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    planned = make_execution([upload(data=np.zeros(3))])
    execution = _with_plan(stores, planned, code_key="algorithms/compox_scale/2/missing.zip")

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None and final.error.type == "NotFoundError"


def test_run_execution_fails_for_an_unsafe_planned_asset_path(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    planned = make_execution([upload(data=np.zeros(3))])
    digest = planned.plan.assets["files/offset.txt"]
    execution = _with_plan(stores, planned, assets={"../outside.txt": digest})

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.FAILED
    assert final.error is not None and final.error.type == "InvalidInputError"


def test_run_execution_returns_final_record_unchanged(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.zeros(3))])
    stopped = stores.executions.stop(execution.execution_id, "Execution stopped.")

    final = run_execution(execution.execution_id, stores, settings)

    assert final == stopped


def test_run_execution_refuses_execution_running_elsewhere(
    stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.zeros(3))])
    stores.executions.mark_started(execution.execution_id)
    stores.executions.mark_running(execution.execution_id, {"resolved_execution_device": "cpu"})

    with pytest.raises(IllegalTransitionError):
        run_execution(execution.execution_id, stores, settings)


def test_run_execution_unloads_the_runner(stores: Stores, settings: Settings, upload, make_execution) -> None:
    execution = make_execution([upload(data=np.zeros(3))])

    run_execution(execution.execution_id, stores, settings)

    assert not [name for name in sys.modules if name.startswith("_stratus_algorithm_")]
