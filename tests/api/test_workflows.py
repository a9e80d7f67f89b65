"""The workflows API through TestClient: a DAG or step body that would fail is refused up front with a
422 (or 404/409) naming the step, and nothing is stored; status changes follow WORKFLOW_TRANSITIONS.
The state machines are stand-ins here (a Pass state): tests/e2e/test_workflows.py runs the real ones."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stratus import aws as aws_clients
from stratus.api import create_app
from stratus.settings import Settings, get_settings
from stratus.stores import Stores

from tests.conftest import MovableClock

DEFINITION = {"StartAt": "Accept", "States": {"Accept": {"Type": "Pass", "End": True}}}
ROLE_ARN = "arn:aws:iam::123456789012:role/workflow-test"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
OCTET = {"content-type": "application/octet-stream"}
WORKFLOWS = "/api/v0/workflows"


@pytest.fixture
def app_settings(settings: Settings, aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    sfn = aws_clients.client("stepfunctions")
    for kind in ("EXECUTION", "TRAINING", "WORKFLOW"):
        created = sfn.create_state_machine(
            name=f"{kind.lower()}-test", definition=json.dumps(DEFINITION), roleArn=ROLE_ARN
        )
        monkeypatch.setenv(f"{kind}_STATE_MACHINE_ARN", created["stateMachineArn"])
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def gateway_app(app_settings: Settings, stores: Stores) -> Any:
    return create_app(app_settings, stores)


def _step(step_id: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "task_type": "execution", "config": config, **fields}


@pytest.fixture
def pair(threshold_id: str, input_id: str) -> list[dict[str, Any]]:
    """generate → refine, refine's input mapped from generate's first output."""
    mapping = {
        "from_step": "generate",
        "from_field": "output_dataset_ids[0]",
        "to_field": "input_dataset_ids",
    }
    return [
        _step("generate", {"algorithm_id": threshold_id, "input_dataset_ids": [input_id]}),
        _step("refine", {"algorithm_id": threshold_id}, depends_on=["generate"], input_mappings=[mapping]),
    ]


def _create(client: TestClient, steps: list[dict[str, Any]], start: bool = True) -> Any:
    return client.post(WORKFLOWS, json={"name": "pipeline", "steps": steps}, params={"start": start})


def test_create_stores_the_dag_and_starts_its_run(client: TestClient, pair: list[dict[str, Any]]) -> None:
    response = _create(client, pair)

    assert response.status_code == 201, response.text
    workflow = response.json()
    assert workflow["status"] == "RUNNING" and workflow["total_steps"] == 2
    assert [s["step_id"] for s in workflow["steps"]] == ["generate", "refine"]
    assert [s["status"] for s in workflow["steps"]] == ["PENDING", "PENDING"]
    assert workflow["final_step_ids"] == ["refine"]
    runs = aws_clients.client("stepfunctions").list_executions(
        stateMachineArn=get_settings().workflow_state_machine_arn
    )["executions"]
    assert [r["name"] for r in runs] == [f"{workflow['id']}-1"]


def test_create_without_start_stays_pending_until_started(
    client: TestClient, pair: list[dict[str, Any]]
) -> None:
    workflow_id = _create(client, pair, start=False).json()["id"]

    renamed = client.patch(f"{WORKFLOWS}/{workflow_id}", json={"name": "renamed"})
    started = client.post(f"{WORKFLOWS}/{workflow_id}/start")

    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"
    assert renamed.json()["status"] == "PENDING"
    assert started.status_code == 200 and started.json()["status"] == "RUNNING"
    assert client.post(f"{WORKFLOWS}/{workflow_id}/start").status_code == 409
    assert client.patch(f"{WORKFLOWS}/{workflow_id}", json={"name": "late"}).status_code == 409


def _mutations(
    pair: list[dict[str, Any]],
) -> list[tuple[str, Callable[[list[dict[str, Any]]], None], int, str]]:
    def mapping(**change: str) -> Callable[[list[dict[str, Any]]], None]:
        return lambda steps: steps[1]["input_mappings"][0].update(change)

    return [
        ("duplicate id", lambda s: s[1].update(id="generate"), 422, "step generate: the id is used"),
        ("unknown dependency", lambda s: s[1].update(depends_on=["nowhere"]), 422, "unknown step nowhere"),
        ("cycle", lambda s: s[0].update(depends_on=["refine"]), 422, "form a cycle"),
        ("not upstream", lambda s: s[1].update(depends_on=[]), 422, "generate is not upstream"),
        ("unknown source field", mapping(from_field="best_checkpoint_id"), 422, "offers output_dataset_ids"),
        (
            "unknown target field",
            mapping(to_field="session_token"),
            422,
            "takes checkpoint_id, input_dataset_ids",
        ),
        (
            "list into one value",
            mapping(from_field="output_dataset_ids", to_field="checkpoint_id"),
            422,
            "pick one",
        ),
        (
            "bad parameter",
            lambda s: s[1]["config"].update(additional_parameters={"threshold": "high"}),
            422,
            "step refine",
        ),
        (
            "unknown body field",
            lambda s: s[0]["config"].update(colour="red"),
            422,
            "step generate: its execution body",
        ),
        (
            "missing input",
            lambda s: s[0]["config"].update(input_dataset_ids=[UNKNOWN_ID]),
            404,
            "step generate",
        ),
        ("unknown algorithm", lambda s: s[1]["config"].update(algorithm_id=UNKNOWN_ID), 404, "step refine"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_create_refuses_a_dag_that_would_fail_naming_the_step(
    client: TestClient, pair: list[dict[str, Any]], case: int
) -> None:
    name, mutate, status, message = _mutations(pair)[case]
    mutate(pair)

    response = _create(client, pair)

    assert response.status_code == status, (name, response.text)
    assert message in response.json()["detail"], (name, response.text)
    assert client.get(WORKFLOWS).json()["items"] == []


def test_transitions_not_allowed_in_a_status_are_conflicts(
    client: TestClient, pair: list[dict[str, Any]]
) -> None:
    workflow_id = _create(client, pair, start=False).json()["id"]

    answers = [
        client.post(f"{WORKFLOWS}/{workflow_id}/{action}") for action in ("pause", "resume", "cleanup")
    ]
    retried = client.post(f"{WORKFLOWS}/{workflow_id}/steps/generate/retry")
    cancelled = client.post(f"{WORKFLOWS}/{workflow_id}/cancel")

    assert [a.status_code for a in answers] == [409, 409, 409]
    assert retried.status_code == 409 and "only a FAILED step" in retried.json()["detail"]
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert {s["status"] for s in cancelled.json()["steps"]} == {"CANCELLED"}
    assert client.post(f"{WORKFLOWS}/{workflow_id}/cancel").status_code == 409


def test_pause_and_resume_a_running_workflow(client: TestClient, pair: list[dict[str, Any]]) -> None:
    workflow_id = _create(client, pair).json()["id"]

    paused = client.post(f"{WORKFLOWS}/{workflow_id}/pause")
    resumed = client.post(f"{WORKFLOWS}/{workflow_id}/resume")

    assert paused.status_code == 200 and paused.json()["status"] == "PAUSED"
    assert resumed.status_code == 200 and resumed.json()["status"] == "RUNNING"


def test_delete_cancels_and_removes_the_workflow(client: TestClient, pair: list[dict[str, Any]]) -> None:
    workflow_id = _create(client, pair).json()["id"]

    deleted = client.delete(f"{WORKFLOWS}/{workflow_id}")

    assert deleted.status_code == 204
    assert client.get(f"{WORKFLOWS}/{workflow_id}").status_code == 404


def test_list_filters_by_status_newest_first(
    client: TestClient, pair: list[dict[str, Any]], clock: MovableClock
) -> None:
    pending = _create(client, pair, start=False).json()["id"]
    clock.advance(1)
    running = _create(client, pair).json()["id"]

    everything = client.get(WORKFLOWS).json()["items"]
    only_pending = client.get(WORKFLOWS, params={"status": "PENDING"}).json()["items"]

    assert [w["id"] for w in everything] == [running, pending]
    assert [w["id"] for w in only_pending] == [pending]
    assert "steps" not in everything[0]


def test_another_tenant_gets_not_found(
    client: TestClient, client_for: Callable[[str], TestClient], pair: list[dict[str, Any]]
) -> None:
    workflow_id = _create(client, pair).json()["id"]
    other = client_for("other")

    answers = [
        other.get(f"{WORKFLOWS}/{workflow_id}"),
        other.post(f"{WORKFLOWS}/{workflow_id}/pause"),
        other.post(f"{WORKFLOWS}/{workflow_id}/cancel"),
        other.delete(f"{WORKFLOWS}/{workflow_id}"),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert other.get(WORKFLOWS).json()["items"] == []
    assert client.get(f"{WORKFLOWS}/{workflow_id}").json()["status"] == "RUNNING"


def test_another_tenants_files_cannot_feed_a_step(
    client_for: Callable[[str], TestClient], pair: list[dict[str, Any]]
) -> None:
    response = _create(client_for("other"), pair)

    assert response.status_code == 404 and "step generate" in response.json()["detail"]


def test_workflow_stats_count_the_callers_workflows_by_status(
    client: TestClient, client_for: Callable[[str], TestClient], pair: list[dict[str, Any]]
) -> None:
    cancelled = _create(client, pair).json()["id"]
    client.post(f"{WORKFLOWS}/{cancelled}/cancel")
    _create(client, pair[:1])

    stats = client.get("/api/v0/monitoring/workflows/stats").json()

    assert stats["total_workflows"] == 2 and stats["workflows_last_hour"] == 2
    assert stats["by_status"]["CANCELLED"] == 1 and stats["by_status"]["RUNNING"] == 1
    assert stats["success_rate"] == 0.0 and stats["avg_steps_per_workflow"] == 1.5
    assert client_for("other").get("/api/v0/monitoring/workflows/stats").json()["total_workflows"] == 0
