"""Monitoring and queue control through the API: queues, moving a queued job, a queued job's priority
(PATCH), stats, running jobs, and /health with component checks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stratus.api import create_app
from stratus.models.executions import ExecutionRecord
from stratus.models.trainings import TrainingRecord
from stratus.services import executions, holds
from stratus.settings import get_settings
from stratus.stores import Stores

from gpu_worker.builtins import deploy_builtins
from tests.conftest import MovableClock, job_plan

TENANT = "local"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def _fields(clock: MovableClock, priority: int) -> dict[str, Any]:
    clock.advance(1)
    return {
        "tenant": TENANT,
        "algorithm_id": "algorithm-1",
        "plan": job_plan(),
        "priority": priority,
        "created_at": clock(),
        "expires_at": int(clock()) + 86_400,
    }


def _queued(stores: Stores, clock: MovableClock, priority: int = 0) -> str:
    """A PENDING execution admitted to the tenant's quota, as the API accepts one."""
    record = ExecutionRecord(execution_id=str(uuid.uuid4()), input_dataset_ids=[], **_fields(clock, priority))
    holder = holds.holder_of("execution", record.execution_id)
    writes = [stores.executions.create_write(record), stores.quotas.admit_write(TENANT, holder)]
    assert stores.executions.transact(writes) is None
    return record.execution_id


def _training(stores: Stores, clock: MovableClock) -> str:
    record = TrainingRecord(
        training_id=str(uuid.uuid4()), training_data=[], samples={}, rounds=[], **_fields(clock, 0)
    )
    stores.trainings.create(record)
    return record.training_id


def test_queues_lists_the_callers_queued_jobs_in_order(
    client: TestClient, stores: Stores, clock: MovableClock
) -> None:
    low, high = _queued(stores, clock, priority=-1), _queued(stores, clock, priority=3)

    answer = client.get("/api/v0/monitoring/queues")

    assert answer.status_code == 200, answer.text
    (cpu,) = [q for q in answer.json()["queues"] if q["name"] == "cpu"]
    assert [(j["job_id"], j["priority"], j["position"]) for j in cpu["jobs"]] == [(high, 3, 1), (low, -1, 2)]
    assert cpu["depth"] == 2


def test_queues_show_nothing_of_another_tenant(
    client_for: Callable[[str], TestClient], stores: Stores, clock: MovableClock
) -> None:
    _queued(stores, clock)

    answer = client_for("acme").get("/api/v0/monitoring/queues")

    assert answer.json()["total_pending"] == 0


def test_patch_execution_sets_a_queued_jobs_priority(
    client: TestClient, stores: Stores, clock: MovableClock
) -> None:
    queued = _queued(stores, clock)

    answer = client.patch(f"/api/v0/executions/{queued}", json={"priority": 42})

    assert (answer.status_code, answer.json()["priority"]) == (200, 42)
    assert stores.executions.get(queued).priority == 42


def test_patch_execution_refuses_a_started_job(
    client: TestClient, stores: Stores, clock: MovableClock
) -> None:
    started = _queued(stores, clock)
    executions.mark_started(started, stores)

    answer = client.patch(f"/api/v0/executions/{started}", json={"priority": 1})

    assert (answer.status_code, answer.json()["code"]) == (409, "illegal_transition")


def test_patch_execution_does_not_find_another_tenants_job(
    client_for: Callable[[str], TestClient], stores: Stores, clock: MovableClock
) -> None:
    queued = _queued(stores, clock)

    answer = client_for("acme").patch(f"/api/v0/executions/{queued}", json={"priority": 1})

    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize("body", [{"priority": 101}, {"priority": "high"}, {"priority": 1, "status": "X"}])
def test_patch_execution_rejects_invalid_bodies(
    client: TestClient, stores: Stores, clock: MovableClock, body: dict[str, Any]
) -> None:
    queued = _queued(stores, clock)

    answer = client.patch(f"/api/v0/executions/{queued}", json=body)

    assert answer.status_code == 422


def test_patch_training_sets_a_queued_trainings_priority(
    client: TestClient, stores: Stores, clock: MovableClock
) -> None:
    training_id = _training(stores, clock)

    answer = client.patch(f"/api/v0/training/{training_id}", json={"priority": -7})

    assert (answer.status_code, answer.json()["priority"]) == (200, -7)


def test_move_puts_a_queued_job_on_top(client: TestClient, stores: Stores, clock: MovableClock) -> None:
    first, second = _queued(stores, clock), _queued(stores, clock)

    answer = client.post(f"/api/v0/monitoring/queues/cpu/jobs/{second}/move", json={"direction": "top"})

    assert answer.status_code == 200, answer.text
    assert [j["job_id"] for j in answer.json()["jobs"]] == [second, first]


def test_move_of_a_started_job_is_409(client: TestClient, stores: Stores, clock: MovableClock) -> None:
    started = _queued(stores, clock)
    executions.mark_started(started, stores)

    answer = client.post(f"/api/v0/monitoring/queues/cpu/jobs/{started}/move", json={"direction": "up"})

    assert (answer.status_code, answer.json()["code"]) == (409, "illegal_transition")


def test_move_of_another_tenants_job_is_404(
    client_for: Callable[[str], TestClient], stores: Stores, clock: MovableClock
) -> None:
    queued = _queued(stores, clock)

    answer = client_for("acme").post(
        f"/api/v0/monitoring/queues/cpu/jobs/{queued}/move", json={"direction": "up"}
    )

    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_move_rejects_an_unknown_queue(client: TestClient) -> None:
    answer = client.post(f"/api/v0/monitoring/queues/tpu/jobs/{UNKNOWN_ID}/move", json={"direction": "up"})

    assert answer.status_code == 422


def test_stats_count_the_callers_jobs(client: TestClient, stores: Stores, clock: MovableClock) -> None:
    _queued(stores, clock)
    _queued(stores, clock)

    answer = client.get("/api/v0/monitoring/stats", params={"window_hours": 1})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["total_jobs"], body["by_status"]["PENDING"], body["window_hours"]) == (2, 2, 1)


def test_workers_show_running_jobs_and_slots(client: TestClient, stores: Stores, clock: MovableClock) -> None:
    started = _queued(stores, clock)
    executions.mark_started(started, stores)

    answer = client.get("/api/v0/monitoring/workers")

    body = answer.json()
    assert [j["job_id"] for j in body["jobs"]] == [started]
    assert (body["running_slots_used"], body["has_capacity"]) == (1, True)


def test_health_stays_a_plain_liveness_answer(anonymous_client: TestClient) -> None:
    answer = anonymous_client.get("/health")

    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_health_with_checks_is_503_while_a_component_is_missing(anonymous_client: TestClient) -> None:
    answer = anonymous_client.get("/health", params={"checks": "true"})

    assert answer.status_code == 503
    assert answer.json()["checks"]["state_machines"]["status"] == "failed"
    assert answer.json()["checks"]["table"]["status"] == "ok"


def test_health_with_checks_is_ok_when_every_component_answers(
    stores: Stores, authenticate: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXECUTION_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:e")
    monkeypatch.setenv("TRAINING_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:t")
    monkeypatch.setenv("WORKFLOW_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:w")
    monkeypatch.setenv("CAMPAIGN_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:c")
    get_settings.cache_clear()
    deploy_builtins(stores, get_settings())
    client = authenticate(create_app(get_settings(), stores), None)

    answer = client.get("/health", params={"checks": "true"})

    get_settings.cache_clear()
    assert (answer.status_code, answer.json()["status"]) == (200, "ok")
