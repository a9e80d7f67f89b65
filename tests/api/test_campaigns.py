"""The campaigns API through TestClient: a search the algorithm cannot take is refused up front with a 422
naming the parameter (404 for an unknown algorithm or input), nothing is stored, and status changes
follow CAMPAIGN_TRANSITIONS. The state machines are stand-ins here (a Pass state):
tests/e2e/test_campaigns.py runs the real ones."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stratus import aws as aws_clients
from stratus.api import create_app
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.services import algorithms
from stratus.settings import Settings, get_settings
from stratus.stores import Stores

from gpu_worker.builtins import builtin_zip

DEFINITION = {"StartAt": "Accept", "States": {"Accept": {"Type": "Pass", "End": True}}}
ROLE_ARN = "arn:aws:iam::123456789012:role/campaign-test"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
CAMPAIGNS = "/api/v0/campaigns"
BRANIN_SPACE = {"x": {"low": -5, "high": 10}, "y": {"low": 0, "high": 15}}
OBJECTIVES = [{"name": "branin", "direction": "minimize"}]


@pytest.fixture
def app_settings(settings: Settings, aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    sfn = aws_clients.client("stepfunctions")
    for kind in ("EXECUTION", "CAMPAIGN", "WORKFLOW", "TRAINING"):
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


@pytest.fixture
def branin_id(stores: Stores, settings: Settings) -> str:
    return algorithms.deploy(builtin_zip("branin"), BUILTIN_OWNER, stores, settings).algorithm_id


@pytest.fixture
def body(branin_id: str, input_id: str) -> Callable[..., dict[str, Any]]:
    """A bayesian campaign on branin, with ``fields`` changed."""

    def make(**fields: Any) -> dict[str, Any]:
        base = {
            "algorithm_id": branin_id,
            "input_dataset_ids": [input_id],
            "kind": "bayesian",
            "search_space": BRANIN_SPACE,
            "objectives": OBJECTIVES,
            "budget": 8,
            "batch_size": 2,
            "seed": 1,
        }
        return {**base, **fields}

    return make


def _create(client: TestClient, body: dict[str, Any]) -> str:
    response = client.post(CAMPAIGNS, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["campaign_id"])


def _listed(client: TestClient) -> list[dict[str, Any]]:
    return list(client.get(CAMPAIGNS).json()["items"])


def test_create_stores_the_campaign_and_starts_its_run(
    client: TestClient, body: Callable[..., dict[str, Any]]
) -> None:
    response = client.post(CAMPAIGNS, json=body())

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "RUNNING" and created["planned_trials"] == 8
    campaign = client.get(f"{CAMPAIGNS}/{created['campaign_id']}").json()
    assert campaign["kind"] == "bayesian" and campaign["trials"] == [] and campaign["best"] is None
    assert campaign["counts"] == {"planned": 8, "created": 0, "running": 0, "completed": 0, "failed": 0}
    runs = aws_clients.client("stepfunctions").list_executions(
        stateMachineArn=get_settings().campaign_state_machine_arn
    )["executions"]
    assert [r["name"] for r in runs] == [f"{created['campaign_id']}-1"]


def test_create_by_name_and_major_finds_the_builtin(
    client: TestClient, body: Callable[..., dict[str, Any]]
) -> None:
    named = {k: v for k, v in body().items() if k != "algorithm_id"}

    response = client.post(
        CAMPAIGNS, json={**named, "algorithm_name": "branin", "algorithm_major_version": 1}
    )

    assert response.status_code == 201, response.text


def test_grid_budget_is_capped_to_the_grid_size(
    client: TestClient, body: Callable[..., dict[str, Any]]
) -> None:
    grid = {"x": {"values": [-3, 0, 3]}, "y": {"values": [1, 2]}}

    response = client.post(CAMPAIGNS, json=body(kind="grid", search_space=grid, budget=100))

    assert response.status_code == 201, response.text
    assert response.json()["planned_trials"] == 6


def test_table_rows_come_from_csv(client: TestClient, body: Callable[..., dict[str, Any]]) -> None:
    table = body(kind="table", search_space={}, rows_csv="x,y\n1.5,2\n-3,12\n", budget=10)

    campaign_id = _create(client, table)

    spec = client.get(f"{CAMPAIGNS}/{campaign_id}").json()["spec"]
    assert spec["rows"] == [{"x": 1.5, "y": 2.0}, {"x": -3.0, "y": 12.0}]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"search_space": {**BRANIN_SPACE, "z": {"low": 0, "high": 1}}}, "z"),
        ({"search_space": {"x": {"low": -5, "high": 11}, "y": {"low": 0, "high": 15}}}, "x"),
        ({"kind": "grid"}, "x"),
        ({"parameters": {"delay_s": 99}}, "delay_s"),
        ({"parameters": {"x": 1.0}}, "x"),
        ({"kind": "table", "search_space": {}, "rows": [{"x": 1, "w": 2}]}, "w"),
    ],
    ids=[
        "unknown-parameter",
        "out-of-bounds",
        "grid-needs-values",
        "fixed-out-of-bounds",
        "fixed-and-searched",
        "table-unknown-column",
    ],
)
def test_create_refuses_a_search_the_algorithm_cannot_take(
    client: TestClient, body: Callable[..., dict[str, Any]], change: dict[str, Any], named: str
) -> None:
    response = client.post(CAMPAIGNS, json=body(**change))

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    assert named in response.json()["detail"]
    assert _listed(client) == []


def test_create_refuses_an_unknown_objective_direction(
    client: TestClient, body: Callable[..., dict[str, Any]]
) -> None:
    response = client.post(CAMPAIGNS, json=body(objectives=[{"name": "branin", "direction": "lowest"}]))

    assert response.status_code == 422
    assert any("direction" in e["loc"] for e in response.json()["detail"])
    assert _listed(client) == []


@pytest.mark.parametrize("field", ["algorithm_id", "input_dataset_ids"])
def test_create_answers_404_for_an_unknown_algorithm_or_input(
    client: TestClient, body: Callable[..., dict[str, Any]], field: str
) -> None:
    value: Any = UNKNOWN_ID if field == "algorithm_id" else [UNKNOWN_ID]

    response = client.post(CAMPAIGNS, json=body(**{field: value}))

    assert response.status_code == 404, response.text
    assert _listed(client) == []


def test_create_answers_404_for_another_tenants_warm_start(
    client: TestClient, client_for: Callable[[str], TestClient], body: Callable[..., dict[str, Any]]
) -> None:
    campaign_id = _create(client, body())

    response = client.post(CAMPAIGNS, json=body(existing_data={"campaign_id": campaign_id}))
    foreign = client_for("other").post(CAMPAIGNS, json=body(existing_data={"campaign_id": campaign_id}))

    assert response.status_code == 201, response.text
    assert foreign.status_code == 404


def test_warm_start_csv_is_read_at_create(client: TestClient, body: Callable[..., dict[str, Any]]) -> None:
    history = "x,y,branin\n3.14,2.27,0.4\n0,0,55.6\n"

    campaign_id = _create(client, body(existing_data={"csv": history}))

    assert client.get(f"{CAMPAIGNS}/{campaign_id}").json()["warm_start_trials"] == 2


def test_warm_start_csv_errors_name_the_column(
    client: TestClient, body: Callable[..., dict[str, Any]]
) -> None:
    response = client.post(CAMPAIGNS, json=body(existing_data={"csv": "x,branin\n1,2\n"}))

    assert response.status_code == 422
    assert "'y'" in response.json()["detail"]


def test_another_tenants_campaign_is_not_found(
    client: TestClient, client_for: Callable[[str], TestClient], body: Callable[..., dict[str, Any]]
) -> None:
    campaign_id = _create(client, body())
    other = client_for("other")

    answers = [
        other.get(f"{CAMPAIGNS}/{campaign_id}"),
        other.get(f"{CAMPAIGNS}/{campaign_id}/history.csv"),
        other.post(f"{CAMPAIGNS}/{campaign_id}/cancel"),
        other.delete(f"{CAMPAIGNS}/{campaign_id}"),
    ]

    assert [a.status_code for a in answers] == [404] * 4
    assert _listed(other) == []
    assert client.get(f"{CAMPAIGNS}/{campaign_id}").json()["status"] == "RUNNING"


def test_pause_resume_and_cancel_follow_the_transitions(
    client: TestClient, body: Callable[..., dict[str, Any]]
) -> None:
    campaign_id = _create(client, body())
    url = f"{CAMPAIGNS}/{campaign_id}"

    resumed_running = client.post(f"{url}/resume")
    paused = client.post(f"{url}/pause")
    paused_again = client.post(f"{url}/pause")
    resumed = client.post(f"{url}/resume")
    cancelled = client.post(f"{url}/cancel")
    cancelled_again = client.post(f"{url}/cancel")
    paused_cancelled = client.post(f"{url}/pause")

    assert resumed_running.status_code == 409 and resumed_running.json()["code"] == "illegal_transition"
    assert paused.status_code == 200 and paused.json()["status"] == "PAUSED"
    assert paused_again.status_code == 409
    assert resumed.status_code == 200 and resumed.json()["status"] == "RUNNING"
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert cancelled_again.status_code == 409 and paused_cancelled.status_code == 409


def test_plot_is_404_no_plot_before_any_result(
    client: TestClient, body: Callable[..., dict[str, Any]]
) -> None:
    campaign_id = _create(client, body())

    response = client.get(f"{CAMPAIGNS}/{campaign_id}/plot")

    assert response.status_code == 404
    assert response.json()["code"] == "no_plot"


def test_history_of_a_new_campaign_is_its_header(
    client: TestClient, body: Callable[..., dict[str, Any]]
) -> None:
    campaign_id = _create(client, body())

    response = client.get(f"{CAMPAIGNS}/{campaign_id}/history.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0].split(",")[:4] == ["trial", "status", "x", "y"]


def test_optimizers_lists_each_kind_with_an_options_schema(client: TestClient) -> None:
    response = client.get(f"{CAMPAIGNS}/optimizers")

    assert response.status_code == 200, response.text
    text = json.dumps(response.json())
    assert all(name in text for name in ("tpe", "gp", "grid", "random", "table"))


def test_delete_removes_the_campaign(client: TestClient, body: Callable[..., dict[str, Any]]) -> None:
    campaign_id = _create(client, body())

    deleted = client.delete(f"{CAMPAIGNS}/{campaign_id}")

    assert deleted.status_code == 204
    assert client.get(f"{CAMPAIGNS}/{campaign_id}").status_code == 404
    assert _listed(client) == []


# A campaign over a workflow template: parameters and objectives are `<step id>.<name>`.
@pytest.fixture
def workflow_body(branin_id: str, input_id: str) -> Callable[..., dict[str, Any]]:
    """A grid campaign over a one-step workflow (branin as step `score`), with ``fields`` changed."""

    def make(**fields: Any) -> dict[str, Any]:
        step = {
            "id": "score",
            "task_type": "execution",
            "config": {"algorithm_id": branin_id, "input_dataset_ids": [input_id]},
        }
        base = {
            "workflow": {"name": "score", "steps": [step]},
            "kind": "grid",
            "search_space": {"score.x": {"values": [-3, 3]}, "score.y": {"values": [2]}},
            "objectives": [{"name": "score.branin"}],
            "budget": 2,
        }
        return {**base, **fields}

    return make


def test_a_workflow_campaign_is_created_with_its_template(
    client: TestClient, workflow_body: Callable[..., dict[str, Any]]
) -> None:
    campaign_id = _create(client, workflow_body())

    campaign = client.get(f"{CAMPAIGNS}/{campaign_id}").json()
    assert campaign["workflow"]["steps"][0]["id"] == "score"
    assert campaign["algorithm_id"] is None and campaign["input_dataset_ids"] == []
    # The grid's values were typed by the step's algorithm: x is a number parameter.
    assert campaign["spec"]["search_space"]["score.x"] == {"values": [-3.0, 3.0]}


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"objectives": [{"name": "branin"}]}, "`<step id>.<KPI>`"),
        ({"objectives": [{"name": "other.branin"}]}, "with a step of ['score']"),
        ({"search_space": {"score.z": {"values": [1]}}}, "score.z"),
        ({"search_space": {"x": {"values": [1]}}}, "'x'"),
        ({"search_space": {"score.x": {"values": [99]}}}, "score.x"),
        ({"algorithm_name": "branin", "algorithm_major_version": 1}, "leave out algorithm_*"),
        ({"parameters": {"score.y": 1}}, "leave out algorithm_*, input_dataset_ids and parameters"),
    ],
)
def test_a_workflow_campaign_refuses_what_its_steps_cannot_take(
    client: TestClient, workflow_body: Callable[..., dict[str, Any]], fields: dict[str, Any], says: str
) -> None:
    response = client.post(CAMPAIGNS, json=workflow_body(**fields))

    # The model's checks answer FastAPI's list of invalid fields; the service's, {"detail", "code"}.
    assert response.status_code == 422 and says in json.dumps(response.json()["detail"]), response.text
    assert _listed(client) == []


def test_a_workflow_campaign_names_the_step_whose_algorithm_is_unknown(
    client: TestClient, workflow_body: Callable[..., dict[str, Any]]
) -> None:
    body = workflow_body()
    body["workflow"]["steps"][0]["config"]["algorithm_id"] = "00000000-0000-4000-8000-000000000000"

    response = client.post(CAMPAIGNS, json=body)

    assert response.status_code == 404 and response.json()["detail"].startswith("step score:"), response.text
    assert _listed(client) == []


def test_a_campaign_without_algorithm_or_workflow_says_what_to_give(
    client: TestClient, body: Callable[..., dict[str, Any]]
) -> None:
    named = {k: v for k, v in body().items() if k != "algorithm_id"}

    response = client.post(CAMPAIGNS, json=named)

    assert response.status_code == 422 and "or a workflow" in response.text
