"""Queued jobs on the local stack take freed running slots by priority: with the tenant at its running
cap, a high-priority execution accepted after a low one starts first once a slot frees."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import h5py
import httpx
import numpy as np
import pytest
from stratus import aws
from stratus.local.process import LocalStackProcess
from stratus.models.executions import ExecutionRecord
from stratus.services import holds, jobs
from stratus.settings import Settings
from stratus.stores import Stores, build_stores

from tests.conftest import wait_until

pytestmark = pytest.mark.e2e

TENANT = "queues"
TIMEOUT_S = 120


@pytest.fixture
def stack_stores(local_stack: LocalStackProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    """Stores on the local stack's table and bucket, with this process pointed at its AWS."""
    for name, value in local_stack.aws_environment.items():
        monkeypatch.setenv(name, value)
    aws.clear_caches()
    (table,) = boto3.client("dynamodb").list_tables()["TableNames"]
    (bucket,) = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    yield build_stores(Settings(table_name=table, data_bucket=bucket))
    aws.clear_caches()


@pytest.fixture
def api(local_stack: LocalStackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=local_stack.api_url, timeout=60, headers=local_stack.headers(TENANT)
    ) as client:
        yield client


def _hdf5() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=np.array([[0.2, 0.7]], dtype=np.float32))
    return buffer.getvalue()


def _blockers(stores: Stores, threshold_id: str, count: int) -> list[str]:
    """``count`` STARTED executions that hold running slots and never run: the tenant runs its cap."""
    plan, _ = jobs.plan_job(threshold_id, None, None, {}, None, TENANT, stores)
    ids = []
    for _ in range(count):
        now = stores.clock()
        record = ExecutionRecord(
            execution_id=str(uuid.uuid4()),
            tenant=TENANT,
            algorithm_id=threshold_id,
            input_dataset_ids=[],
            plan=plan,
            created_at=now,
            expires_at=int(now) + 3600,
        )
        holder = holds.holder_of("execution", record.execution_id)
        assert (
            stores.executions.transact(
                [stores.executions.create_write(record), stores.quotas.admit_write(TENANT, holder)]
            )
            is None
        )
        assert stores.quotas.start_running(TENANT, holder)
        stores.executions.mark_started(record.execution_id)
        ids.append(record.execution_id)
    return ids


def _execute(api: httpx.Client, body: dict[str, Any]) -> str:
    answer = api.post("/api/v0/execute-algorithm", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["execution_id"])


def _record(api: httpx.Client, execution_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = api.get(f"/api/v0/executions/{execution_id}").json()
    return answer


def test_high_priority_queued_execution_takes_the_freed_slot_first(
    api: httpx.Client, stack_stores: Stores
) -> None:
    (threshold,) = [a for a in api.get("/api/v0/algorithm/all").json() if a["algorithm_name"] == "threshold"]
    input_id = api.post(
        "/api/v0/files", content=_hdf5(), headers={"content-type": "application/octet-stream"}
    ).json()["file_id"]
    cap = api.get("/api/v0/monitoring/workers").json()["max_running_jobs"]
    blockers = _blockers(stack_stores, threshold["algorithm_id"], cap)
    body = {"algorithm_id": threshold["algorithm_id"], "input_dataset_ids": [input_id]}
    try:
        low = _execute(api, {**body, "priority": -10})
        high = _execute(api, {**body, "priority": 10})
        # Both runs asked for a slot and wait, in priority order.
        wait_until(lambda: len(stack_stores.quotas.usage(TENANT).waiting) == 2, TIMEOUT_S)
        (cpu,) = [q for q in api.get("/api/v0/monitoring/queues").json()["queues"] if q["name"] == "cpu"]

        jobs.stop(blockers[0], TENANT, stack_stores.executions, None, [], stack_stores)
        wait_until(lambda: _record(api, high)["status"] == "COMPLETED", TIMEOUT_S)
        wait_until(lambda: _record(api, low)["status"] == "COMPLETED", TIMEOUT_S)
    finally:
        for blocker in blockers:
            if stack_stores.executions.get(blocker).status.value == "STARTED":
                jobs.stop(blocker, TENANT, stack_stores.executions, None, [], stack_stores)

    assert [j["job_id"] for j in cpu["jobs"]] == [high, low]
    assert stack_stores.executions.get(high).time_started < stack_stores.executions.get(low).time_started
