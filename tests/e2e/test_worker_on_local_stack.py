"""A deployed algorithm runs on an uploaded file: local stack API and AWS, the worker as a subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import boto3
import h5py
import httpx
import numpy as np
import pytest
from stratus import aws
from stratus.local.process import LocalStackProcess
from stratus.models.executions import ExecutionRecord, ExecutionStatus
from stratus.services import jobs
from stratus.settings import Settings
from stratus.stores import build_stores

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_settings(local_stack: LocalStackProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings naming the local stack's table and bucket, with this process pointed at its AWS."""
    for name, value in local_stack.aws_environment.items():
        monkeypatch.setenv(name, value)
    aws.clear_caches()
    (table,) = boto3.client("dynamodb").list_tables()["TableNames"]
    (bucket,) = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    yield Settings(table_name=table, data_bucket=bucket)
    aws.clear_caches()


def _hdf5(data: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=data)
    return buffer.getvalue()


def test_worker_runs_builtin_on_uploaded_file(
    api: httpx.Client, local_stack: LocalStackProcess, stack_settings: Settings
) -> None:
    stack_stores = build_stores(stack_settings)
    (threshold,) = [a for a in api.get("/api/v0/algorithm/all").json() if a["algorithm_name"] == "threshold"]
    data = np.array([[0.2, 0.7], [0.9, 0.1]], dtype=np.float32)
    file_id = api.post(
        "/api/v0/files", content=_hdf5(data), headers={"content-type": "application/octet-stream"}
    ).json()["file_id"]
    now = stack_stores.clock()
    plan, _ = jobs.plan_job(
        threshold["algorithm_id"], None, None, {"threshold": 0.5}, None, "local", stack_stores
    )
    execution = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant="local",
        algorithm_id=threshold["algorithm_id"],
        input_dataset_ids=[file_id],
        additional_parameters=plan.parameters,
        plan=plan,
        created_at=now,
        expires_at=int(now) + 3600,
    )
    stack_stores.executions.create(execution)
    environment = {
        **os.environ,
        **local_stack.aws_environment,
        "TABLE_NAME": stack_settings.table_name,
        "DATA_BUCKET": stack_settings.data_bucket,
    }

    result = subprocess.run(
        [sys.executable, "-m", "gpu_worker", "run-execution", execution.execution_id],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    finished = stack_stores.executions.get(execution.execution_id)
    assert finished.status is ExecutionStatus.COMPLETED
    (output_id,) = finished.output_dataset_ids
    output = api.get(f"/api/v0/files/{output_id}")
    with h5py.File(io.BytesIO(output.content), "r") as handle:
        np.testing.assert_array_equal(handle["data"][()], [[0, 1], [1, 0]])
