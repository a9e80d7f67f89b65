"""KPIs of whole jobs, in-process against moto with the algorithm in its sandbox: report_kpi and set_state
across the channel, the final set with COMPLETED, a failed job's, a training's and its checkpoint's, and
the worker's own check of what the channel brings."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from stratus.errors import InvalidInputError
from stratus.models import Kpi
from stratus.models.algorithms import BUILTIN_OWNER, AlgorithmVersionRecord
from stratus.models.executions import ExecutionRecord, ExecutionStatus
from stratus.models.jobs import JobStatus
from stratus.services import algorithms
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.builtins import builtin_zip
from gpu_worker.context import ExecutionContext
from gpu_worker.jobs import run_execution, run_training
from gpu_worker.sandbox.folders import create_job_folder
from gpu_worker.sandbox.service import RunnerService

from .conftest import TENANT, deploy_folder, new_execution, read_dataset
from .test_training_jobs import deploy_trainable, make_sample, new_training

KPI_PACKAGE = Path(__file__).resolve().parent / "packages" / "kpis"


@pytest.fixture
def kpi_version(stores: Stores, settings: Settings) -> AlgorithmVersionRecord:
    return deploy_folder(KPI_PACKAGE, stores, settings)


def _run(
    stores: Stores, settings: Settings, version: AlgorithmVersionRecord, input_id: str, **parameters: object
):
    execution = new_execution(stores, version.algorithm_id, [input_id], additional_parameters=parameters)
    return run_execution(execution.execution_id, stores, settings)


def test_set_state_numeric_entries_are_kpis_of_an_unmodified_package(
    stores: Stores, settings: Settings, kpi_version: AlgorithmVersionRecord, upload
) -> None:
    final = _run(stores, settings, kpi_version, upload(data=np.zeros(2)), mode="state")

    assert final.status is ExecutionStatus.COMPLETED, final.log
    assert final.kpis == {"loss": Kpi(name="loss", value=0.25), "epoch": Kpi(name="epoch", value=3.0)}
    assert "set_state entry 'val loss' is not reported as a KPI" in final.log


def test_reported_kpis_carry_units_and_the_last_value(
    stores: Stores, settings: Settings, kpi_version: AlgorithmVersionRecord, upload
) -> None:
    final = _run(stores, settings, kpi_version, upload(data=np.zeros(2)), mode="report")

    assert final.kpis == {
        "throughput": Kpi(name="throughput", value=42.0, unit="items/s"),
        "latency": Kpi(name="latency", value=0.25, unit="s"),
    }


def test_reported_kpi_wins_over_set_state_across_the_channel(
    stores: Stores, settings: Settings, kpi_version: AlgorithmVersionRecord, upload
) -> None:
    final = _run(stores, settings, kpi_version, upload(data=np.zeros(2)), mode="both")

    assert final.kpis["accuracy"] == Kpi(name="accuracy", value=0.875, unit="ratio")
    assert final.kpis["loss"].value == 0.125


def test_a_reporting_loop_ends_with_its_last_value_stored(
    stores: Stores, settings: Settings, kpi_version: AlgorithmVersionRecord, upload
) -> None:
    final = _run(stores, settings, kpi_version, upload(data=np.zeros(2)), mode="loop")

    assert final.status is ExecutionStatus.COMPLETED, final.log
    assert final.kpis == {"step": Kpi(name="step", value=499.0)}


def test_a_failed_job_keeps_the_kpis_it_reported(
    stores: Stores, settings: Settings, kpi_version: AlgorithmVersionRecord, upload
) -> None:
    final = _run(stores, settings, kpi_version, upload(data=np.zeros(2)), mode="fail")

    assert final.status is ExecutionStatus.FAILED
    assert final.kpis["latency"] == Kpi(name="latency", value=0.25, unit="s")


def test_branin_reports_the_function_value_and_writes_it(stores: Stores, settings: Settings, upload) -> None:
    version = algorithms.deploy(builtin_zip("branin"), BUILTIN_OWNER, stores, settings)

    final = _run(stores, settings, version, upload(anything=np.arange(3)), x=math.pi, y=2.275)

    assert final.status is ExecutionStatus.COMPLETED, final.log
    assert final.kpis["branin"].value == pytest.approx(0.397887, abs=1e-6)
    (output_id,) = final.output_dataset_ids
    output = read_dataset(stores.objects.get(stores.files.get(output_id, TENANT).s3_key), "data")
    assert output.tolist() == [final.kpis["branin"].value]


def test_training_and_its_checkpoint_carry_the_state_kpis(stores: Stores, settings: Settings) -> None:
    trainable = deploy_trainable(stores, settings)
    sample_ids = [make_sample(stores, settings) for _ in range(2)]
    training = new_training(
        stores, trainable.algorithm_id, sample_ids, additional_parameters={"num_epochs": 3}
    )

    after = run_training(training.training_id, 0, stores, settings)

    assert after.status is JobStatus.RUNNING, after.log
    assert after.kpis["epoch"].value == 3.0
    checkpoint = stores.checkpoints.get(after.output_checkpoint_ids[0], TENANT)
    assert checkpoint.kpis == after.kpis
    assert set(checkpoint.kpis) == {"epoch", "threshold", "accuracy"}


def test_service_refuses_a_kpi_the_runtime_would_not_send(
    stores: Stores, settings: Settings, kpi_version: AlgorithmVersionRecord, tmp_path: Path
) -> None:
    execution: ExecutionRecord = new_execution(stores, kpi_version.algorithm_id, [])
    context = ExecutionContext(execution, stores, settings, tmp_path / "package", "cpu")
    (tmp_path / "job").mkdir()
    service = RunnerService(context, create_job_folder(tmp_path / "job", None), {})

    with pytest.raises(InvalidInputError, match="KPI 'loss': the value must be a number, got bool"):
        service.handle("report_kpi", {"name": "loss", "value": True, "unit": None})
    service.close()
