"""Declared dependencies through the local stack: a deploy starts a Batch build job (the worker's real
`build-environment`, pip installing a wheel this test made from a local folder: no network), the version
reads READY, and an execution's sandboxed algorithm imports the dependency; one that pip cannot find
reads FAILED with pip's message and its jobs are refused."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import pytest
from stratus.algorithms import package_from_folder
from stratus.algorithms.requirements import environment_digest, python_tag
from stratus.local.process import LocalStackProcess, batch_job

from tests.gpu_worker.wheels import TEST_VALUE

pytestmark = pytest.mark.e2e

TENANT = "environments"
PACKAGE = Path(__file__).resolve().parents[1] / "gpu_worker" / "packages" / "with_dependency"
ZIP = {"content-type": "application/zip"}
# A build is one pip run from a local folder: seconds; the margin is for a loaded machine.
BUILD_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def api(local_stack: LocalStackProcess) -> Iterator[httpx.Client]:
    """A client of the shared stack (its builds install from the test wheel's folder) for a tenant of
    this module's own."""
    headers = local_stack.headers(TENANT)
    with httpx.Client(base_url=local_stack.api_url, timeout=60, headers=headers) as client:
        yield client


def _deploy(api: httpx.Client, folder: Path) -> dict[str, Any]:
    response = api.post("/api/v0/algorithms", content=package_from_folder(folder), headers=ZIP)
    assert response.status_code == 201, response.text
    deployed: dict[str, Any] = response.json()
    return deployed


def _settled(api: httpx.Client, algorithm_id: str) -> dict[str, Any]:
    """The algorithm once its version no longer reads BUILDING."""
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while time.monotonic() < deadline:
        described: dict[str, Any] = api.get(f"/api/v0/algorithm/{algorithm_id}").json()
        if described["status"] != "BUILDING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"algorithm {algorithm_id} still BUILDING after {BUILD_TIMEOUT_S} s")


def _input(api: httpx.Client) -> str:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=np.zeros(4, dtype=np.float32))
    octet = {"content-type": "application/octet-stream"}
    response = api.post("/api/v0/files", content=buffer.getvalue(), headers=octet)
    assert response.status_code == 200, response.text
    return str(response.json()["file_id"])


def _execute(api: httpx.Client, algorithm_id: str) -> httpx.Response:
    body = {"algorithm_id": algorithm_id, "input_dataset_ids": [_input(api)]}
    return api.post("/api/v0/execute-algorithm", json=body, headers={"Prefer": "wait=25"})


def test_declared_dependency_is_built_and_imported(api: httpx.Client, local_stack: LocalStackProcess) -> None:
    deployed = _deploy(api, PACKAGE)

    described = _settled(api, deployed["algorithm_id"])
    response = _execute(api, deployed["algorithm_id"])

    assert described["status"] == "READY", described["error"]
    # The stack's worker is this interpreter: the build job is named after the environment's digest.
    digest = environment_digest(["stratus-testdep==1.0"], python_tag())
    assert batch_job(local_stack.client("batch"), f"environment-{digest[:32]}")["status"] == "SUCCEEDED"
    record = response.json()
    assert record["status"] == "COMPLETED", record["log"]
    (output_id,) = record["output_dataset_ids"]
    with h5py.File(io.BytesIO(api.get(f"/api/v0/files/{output_id}").content), "r") as handle:
        assert bytes(np.asarray(handle["data"][()], dtype=np.uint8)).decode() == TEST_VALUE
    assert "environment/stratus_testdep/__init__.py" in record["log"]


def test_dependency_pip_cannot_find_fails_with_its_message(api: httpx.Client, tmp_path: Path) -> None:
    (tmp_path / "Runner.py").write_text((PACKAGE / "Runner.py").read_text())
    pyproject = (PACKAGE / "pyproject.toml").read_text()
    missing = pyproject.replace('name = "with_dependency"', 'name = "with_missing_dependency"')
    missing = missing.replace("stratus-testdep==1.0", "stratus-testdep-missing")
    (tmp_path / "pyproject.toml").write_text(missing)
    deployed = _deploy(api, tmp_path)

    described = _settled(api, deployed["algorithm_id"])
    response = _execute(api, deployed["algorithm_id"])

    assert described["status"] == "FAILED"
    assert "No matching distribution found for stratus-testdep-missing" in described["error"]
    assert response.status_code == 409
    assert response.json()["code"] == "environment_failed"
