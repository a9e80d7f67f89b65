"""The command line: exit codes in-process, and one real `python -m gpu_worker` against a moto server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from stratus.models.executions import ExecutionStatus
from stratus.services import files
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.__main__ import EXIT_COMPLETED, EXIT_FAILED, EXIT_STOPPED, main

from .conftest import TENANT, deploy_scale, hdf5_bytes, new_execution, read_dataset


def test_main_exits_zero_when_completed(settings: Settings, upload, make_execution) -> None:
    execution = make_execution([upload(data=np.zeros(3))])

    assert main(["run-execution", execution.execution_id]) == EXIT_COMPLETED


def test_main_exits_non_zero_when_failed(settings: Settings, upload, make_execution) -> None:
    execution = make_execution([upload(data=np.zeros(3))], additional_parameters={"label": "explode"})

    assert main(["run-execution", execution.execution_id]) == EXIT_FAILED


def test_main_exits_with_stop_code_when_stopped(stores: Stores, upload, make_execution) -> None:
    execution = make_execution([upload(data=np.zeros(3))])
    stores.executions.request_stop(execution.execution_id)

    assert main(["run-execution", execution.execution_id]) == EXIT_STOPPED


def test_main_exits_non_zero_for_unknown_id(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run-execution", "no-such-execution"])

    assert code == EXIT_FAILED
    assert "execution not found" in capsys.readouterr().err


@pytest.mark.e2e
def test_worker_process_runs_execution_against_moto_server(
    server_stores: tuple[Stores, Settings, dict[str, str]], tmp_path: Path
) -> None:
    stores, settings, environment = server_stores
    version = deploy_scale(stores, settings)
    input_id = files.store_upload(hdf5_bytes(data=np.full(4, 1.0)), TENANT, stores, settings).file_id
    execution = new_execution(stores, version.algorithm_id, [input_id])

    # Run from outside the repository, so the installed packages are what gets imported.
    result = subprocess.run(  # noqa: S603  # our own module, with the current interpreter
        [sys.executable, "-m", "gpu_worker", "run-execution", execution.execution_id],
        env={**os.environ, **environment},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == EXIT_COMPLETED, result.stderr
    final = stores.executions.get(execution.execution_id)
    assert final.status is ExecutionStatus.COMPLETED
    (output_id,) = final.output_dataset_ids
    output = stores.objects.get(stores.files.get(output_id, TENANT).s3_key)
    np.testing.assert_allclose(read_dataset(output, "data"), np.full(4, 3.5))
