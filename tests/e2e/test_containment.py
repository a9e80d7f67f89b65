"""Uploaded code is contained, through the local stack as a client uses it: a hostile package deployed
and executed over the API finds no credentials, endpoints or stack names, and cannot call AWS."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import pytest
from stratus.algorithms import package_from_folder
from stratus.local.process import LocalStackProcess

pytestmark = pytest.mark.e2e

HOSTILE = Path(__file__).resolve().parent / "packages" / "hostile"
TIMEOUT_S = 120


def _upload(api: httpx.Client) -> str:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=np.zeros(1))
    response = api.post(
        "/api/v0/files", content=buffer.getvalue(), headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["file_id"])


@pytest.fixture(scope="module")
def report(local_stack: LocalStackProcess, auth_headers: dict[str, str]) -> dict[str, Any]:
    """What the hostile package reported, told where the stack's AWS endpoint is (as if it guessed)."""
    with httpx.Client(base_url=local_stack.api_url, timeout=60, headers=auth_headers) as api:
        deployed = api.post(
            "/api/v0/algorithms",
            content=package_from_folder(HOSTILE),
            headers={"content-type": "application/zip"},
        )
        assert deployed.status_code == 201, deployed.text
        body = {
            "algorithm_id": deployed.json()["algorithm_id"],
            "input_dataset_ids": [_upload(api)],
            "additional_parameters": {"probe_endpoint": local_stack.aws_url},
        }
        execution_id = api.post("/api/v0/execute-algorithm", json=body).json()["execution_id"]
        record = _wait(api, execution_id)
        assert record["status"] == "COMPLETED", record["log"]
        output = api.get(f"/api/v0/files/{record['output_dataset_ids'][0]}").content
    with h5py.File(io.BytesIO(output), "r") as handle:
        found: dict[str, Any] = json.loads(handle["report"].asstr()[()])
    return found


def _wait(api: httpx.Client, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        record: dict[str, Any] = api.get(f"/api/v0/executions/{execution_id}").json()
        if record["status"] in ("COMPLETED", "FAILED", "STOPPED"):
            return record
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_id} never ended")


def _secrets(local_stack: LocalStackProcess) -> tuple[str, ...]:
    return ("AWS_", local_stack.aws_url, local_stack.s3_url, "TABLE_NAME", "DATA_BUCKET", "RecordsTable")


def test_hostile_package_finds_no_credentials_or_endpoints(
    report: dict[str, Any], local_stack: LocalStackProcess
) -> None:
    environment = json.dumps(report["environ"])

    assert [secret for secret in _secrets(local_stack) if secret in environment] == []
    assert report["parent_environ"]["ok"] is False


@pytest.mark.skipif(os.geteuid() != 0, reason="as the worker's own user it reads that user's other processes")
def test_hostile_package_reads_no_processs_credentials(
    report: dict[str, Any], local_stack: LocalStackProcess
) -> None:
    environments = json.dumps(report["proc_environ_readable"])

    assert [secret for secret in _secrets(local_stack) if secret in environments] == []


def test_hostile_package_cannot_list_or_scan_the_stacks_data(report: dict[str, Any]) -> None:
    without_credentials = report["aws"]["default_chain"]["result"]

    assert without_credentials["list_tables"]["ok"] is False
    assert without_credentials["list_buckets"]["ok"] is False


def test_hostile_package_cannot_reach_the_stack_even_with_fake_credentials(report: dict[str, Any]) -> None:
    if report["network_interfaces"] != ["lo"]:
        pytest.skip("no network namespace here: moto accepts any credentials from a process that reaches it")
    with_fake_credentials = report["aws"]["fake_credentials_at_endpoint"]["result"]

    assert with_fake_credentials["list_tables"]["ok"] is False
    assert with_fake_credentials["list_buckets"]["ok"] is False
    assert report["endpoint_socket"]["ok"] is False
