"""Scenarios through the local stack, as a client sees them: a scenario of the built-in `threshold` runs
as a real execution (moto's ASL interpreter, a Batch job as a worker process), ends COMPLETED with its
output, is reset and runs again."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import h5py
import httpx
import numpy as np
import pytest
from stratus.local.process import LocalStackProcess

from tests.conftest import wait_until

pytestmark = pytest.mark.e2e

WORKSPACES = "/api/v0/workspaces"
OCTET = {"content-type": "application/octet-stream"}
FINAL = {"COMPLETED", "FAILED", "STOPPED"}
TIMEOUT_S = 120


@pytest.fixture
def tenant_api(local_stack: LocalStackProcess) -> Iterator[httpx.Client]:
    """A client of a tenant of its own: its workspaces start from nothing."""
    headers = local_stack.headers("e2e-scenarios")
    with httpx.Client(base_url=local_stack.api_url, timeout=60, headers=headers) as client:
        yield client


def _upload(api: httpx.Client, data: np.ndarray) -> str:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=data)
    uploaded = api.post("/api/v0/files", content=buffer.getvalue(), headers=OCTET)
    assert uploaded.status_code == 200, uploaded.text
    return str(uploaded.json()["file_id"])


def _read(api: httpx.Client, file_id: str) -> np.ndarray:
    response = api.get(f"/api/v0/files/{file_id}")
    assert response.status_code == 200, response.text
    with h5py.File(io.BytesIO(response.content), "r") as handle:
        return np.asarray(handle["data"][()])


def _ended(api: httpx.Client, path: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def ended() -> bool:
        seen.update(api.get(f"{path}/status").json())
        return seen["status"] in FINAL

    wait_until(ended, TIMEOUT_S, interval=0.5)
    scenario: dict[str, Any] = api.get(path).json()
    return scenario


def test_scenario_runs_completes_resets_and_runs_again(tenant_api: httpx.Client) -> None:
    api = tenant_api
    input_id = _upload(api, np.array([[0.1, 0.6], [0.5, 0.9]], dtype=np.float32))
    workspace_id = api.get(WORKSPACES).json()["default"]
    created = api.post(
        f"{WORKSPACES}/{workspace_id}/scenarios",
        json={
            "tag": "cut-0.5",
            "algorithm_name": "threshold",
            "algorithm_major_version": 1,
            "dataset_ids": [input_id],
            "parameters": {"threshold": 0.5},
        },
    )
    assert created.status_code == 201, created.text
    path = f"{WORKSPACES}/{workspace_id}/scenarios/{created.json()['id']}"

    started = api.post(f"{path}/run")
    first = _ended(api, path)
    reset = api.post(f"{path}/reset")
    again = api.post(f"{path}/run")
    second = _ended(api, path)

    assert (started.status_code, started.json()["status"]) == (202, "PENDING")
    assert first["status"] == "COMPLETED", first
    (output_id,) = first["result"]["output_dataset_ids"]
    np.testing.assert_array_equal(_read(api, output_id), [[0, 1], [0, 1]])
    assert (reset.status_code, reset.json()["status"], reset.json()["result"]) == (200, "CREATED", None)
    assert again.status_code == 202
    assert second["status"] == "COMPLETED" and second["execution_id"] != first["execution_id"]
    execution = api.get(f"/api/v0/executions/{second['execution_id']}").json()
    assert execution["status"] == "COMPLETED"
