"""The workspaces API through TestClient: workspaces (a `main` on first use, unique names, copy sharing
the data, delete), and scenarios (create checked as an execution would be, run as a real execution,
reset, status). The execution state machine is a stand-in (a Pass state); the tests move the execution
records as the worker would. tests/e2e/test_scenarios.py runs the real one."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stratus import aws as aws_clients
from stratus.api import create_app
from stratus.errors import NotFoundError
from stratus.models.jobs import JobError
from stratus.models.workspaces import ScenarioCreate
from stratus.services import scenarios
from stratus.settings import Settings, get_settings
from stratus.stores import StateMachineStore, Stores

from tests.conftest import MovableClock

DEFINITION = {"StartAt": "Accept", "States": {"Accept": {"Type": "Pass", "End": True}}}
ROLE_ARN = "arn:aws:iam::123456789012:role/workspace-test"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
WORKSPACES = "/api/v0/workspaces"


@pytest.fixture
def app_settings(settings: Settings, aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    sfn = aws_clients.client("stepfunctions")
    created = sfn.create_state_machine(
        name="execution-test", definition=json.dumps(DEFINITION), roleArn=ROLE_ARN
    )
    monkeypatch.setenv("EXECUTION_STATE_MACHINE_ARN", created["stateMachineArn"])
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def gateway_app(app_settings: Settings, stores: Stores) -> Any:
    return create_app(app_settings, stores)


@pytest.fixture
def main_id(client: TestClient) -> str:
    return str(client.get(WORKSPACES).json()["default"])


@pytest.fixture
def scenario_body(threshold_id: str, input_id: str) -> dict[str, Any]:
    return {
        "tag": "cut-0.5",
        "algorithm_id": threshold_id,
        "dataset_ids": [input_id],
        "parameters": {"threshold": 0.5},
    }


def _scenarios(workspace_id: str) -> str:
    return f"{WORKSPACES}/{workspace_id}/scenarios"


def _create_scenario(client: TestClient, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(_scenarios(workspace_id), json=body)
    assert response.status_code == 201, response.text
    scenario: dict[str, Any] = response.json()
    return scenario


def _run(client: TestClient, workspace_id: str, scenario_id: str) -> Any:
    return client.post(f"{_scenarios(workspace_id)}/{scenario_id}/run")


def _complete(stores: Stores, execution_id: str, outputs: list[str], **kpis: float) -> None:
    stores.executions.mark_started(execution_id)
    stores.executions.mark_running(execution_id, {"resolved_execution_device": "cpu"})
    stored = {name: {"name": name, "value": value} for name, value in kpis.items()}
    stores.executions.finish(execution_id, outputs, kpis=stored)


def _object_count(stores: Stores, settings: Settings) -> int:
    listed = aws_clients.s3_client().list_objects_v2(Bucket=settings.data_bucket)
    return int(listed.get("KeyCount", 0))


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; their answers, in order."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def go(index: int) -> None:
        barrier.wait()
        answers[index] = calls[index]()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


# --- workspaces -----------------------------------------------------------------------------------------


def test_list_workspaces_makes_main_on_first_use_once(client: TestClient) -> None:
    first = client.get(WORKSPACES).json()
    again = client.get(WORKSPACES).json()

    assert [w["display_name"] for w in first["workspaces"]] == ["main"]
    assert first["default"] == first["workspaces"][0]["id"] == again["default"]
    assert len(again["workspaces"]) == 1


def test_list_workspaces_racing_first_uses_make_one_main(client_for: Callable[[str], TestClient]) -> None:
    clients = [client_for("racer"), client_for("racer")]

    answers = _race(*(lambda c=c: c.get(WORKSPACES) for c in clients))

    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["default"] == answers[1].json()["default"]
    assert len(clients[0].get(WORKSPACES).json()["workspaces"]) == 1


def test_create_workspace_answers_201_and_lists_it_after_main(
    client: TestClient, clock: MovableClock
) -> None:
    client.get(WORKSPACES)
    clock.advance(1)

    response = client.post(WORKSPACES, json={"display_name": "experiments"})

    assert response.status_code == 201, response.text
    listed = client.get(WORKSPACES).json()
    assert [w["display_name"] for w in listed["workspaces"]] == ["main", "experiments"]
    assert listed["workspaces"][1]["id"] == response.json()["id"]


@pytest.mark.parametrize("body", [{}, {"display_name": ""}, {"display_name": "  padded "}, {"name": "x"}])
def test_create_workspace_rejects_missing_or_empty_name(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post(WORKSPACES, json=body)

    assert response.status_code == 422
    assert len(client.get(WORKSPACES).json()["workspaces"]) == 1


def test_create_workspace_refuses_a_taken_name(client: TestClient) -> None:
    client.post(WORKSPACES, json={"display_name": "experiments"})

    response = client.post(WORKSPACES, json={"display_name": "experiments"})

    assert (response.status_code, response.json()["code"]) == (409, "already_exists")


def test_create_workspace_racing_creates_of_one_name_give_one(client: TestClient) -> None:
    client.get(WORKSPACES)

    answers = _race(*(lambda: client.post(WORKSPACES, json={"display_name": "twin"}) for _ in range(2)))

    assert sorted(a.status_code for a in answers) == [201, 409]
    names = [w["display_name"] for w in client.get(WORKSPACES).json()["workspaces"]]
    assert names.count("twin") == 1


def test_rename_workspace_keeps_its_id_and_frees_the_old_name(client: TestClient) -> None:
    created = client.post(WORKSPACES, json={"display_name": "draft"}).json()

    renamed = client.patch(f"{WORKSPACES}/{created['id']}", json={"display_name": "final"})
    reused = client.post(WORKSPACES, json={"display_name": "draft"})

    assert renamed.status_code == 200
    assert (renamed.json()["id"], renamed.json()["display_name"]) == (created["id"], "final")
    assert reused.status_code == 201


def test_rename_workspace_refuses_a_taken_name(client: TestClient, main_id: str) -> None:
    client.post(WORKSPACES, json={"display_name": "other"})

    response = client.patch(f"{WORKSPACES}/{main_id}", json={"display_name": "other"})

    assert (response.status_code, response.json()["code"]) == (409, "already_exists")


def test_rename_workspace_racing_renames_to_one_name_give_one(client: TestClient) -> None:
    ids = [client.post(WORKSPACES, json={"display_name": f"w{i}"}).json()["id"] for i in range(2)]

    answers = _race(
        *(lambda i=i: client.patch(f"{WORKSPACES}/{i}", json={"display_name": "same"}) for i in ids)
    )

    assert sorted(a.status_code for a in answers) == [200, 409]
    names = [w["display_name"] for w in client.get(WORKSPACES).json()["workspaces"]]
    assert names.count("same") == 1


def test_workspace_routes_answer_404_for_unknown_and_foreign_workspaces(
    client: TestClient, client_for: Callable[[str], TestClient], main_id: str
) -> None:
    other = client_for("other")

    answers = [
        other.patch(f"{WORKSPACES}/{main_id}", json={"display_name": "mine"}),
        other.post(f"{WORKSPACES}/{main_id}/copy", json={"display_name": "mine"}),
        other.delete(f"{WORKSPACES}/{main_id}"),
        other.get(_scenarios(main_id)),
        client.delete(f"{WORKSPACES}/{UNKNOWN_ID}"),
    ]

    assert [a.status_code for a in answers] == [404] * 5
    assert client.get(WORKSPACES).json()["workspaces"][0]["display_name"] == "main"


def test_delete_workspace_removes_it_and_its_scenarios(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any]
) -> None:
    doomed = client.post(WORKSPACES, json={"display_name": "doomed"}).json()["id"]
    _create_scenario(client, doomed, scenario_body)

    response = client.delete(f"{WORKSPACES}/{doomed}")

    assert response.status_code == 200
    assert [w["display_name"] for w in response.json()["workspaces"]] == ["main"]
    assert stores.workspaces.scenarios(doomed) == []
    assert client.get(_scenarios(doomed)).status_code == 404
    assert client.post(WORKSPACES, json={"display_name": "doomed"}).status_code == 201


def test_delete_workspace_last_one_is_replaced_by_a_fresh_main(client: TestClient, main_id: str) -> None:
    response = client.delete(f"{WORKSPACES}/{main_id}")

    listed = response.json()
    assert response.status_code == 200
    assert [w["display_name"] for w in listed["workspaces"]] == ["main"]
    assert listed["default"] != main_id


def test_copy_workspace_copies_scenarios_and_shares_the_data(
    client: TestClient, stores: Stores, settings: Settings, scenario_body: dict[str, Any], main_id: str
) -> None:
    original = _create_scenario(client, main_id, scenario_body)
    run = _run(client, main_id, original["id"]).json()
    objects = _object_count(stores, settings)

    response = client.post(f"{WORKSPACES}/{main_id}/copy", json={"display_name": "copy"})

    assert response.status_code == 201, response.text
    copy_id = response.json()["id"]
    (copied,) = client.get(_scenarios(copy_id)).json()["scenarios"]
    assert copied["id"] != original["id"] and copied["status"] == "CREATED"
    assert copied["execution_id"] is None and run["execution_id"] is not None
    same = ("tag", "dataset_ids", "algorithm_id", "parameters")
    assert {k: copied[k] for k in same} == {k: original[k] for k in same}
    assert _object_count(stores, settings) == objects
    assert client.get(_scenarios(main_id)).json()["scenarios"][0]["status"] == "PENDING"


def test_copy_workspace_refuses_a_taken_name_and_leaves_nothing(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str
) -> None:
    _create_scenario(client, main_id, scenario_body)

    response = client.post(f"{WORKSPACES}/{main_id}/copy", json={"display_name": "main"})

    assert (response.status_code, response.json()["code"]) == (409, "already_exists")
    assert len(client.get(WORKSPACES).json()["workspaces"]) == 1
    partitions = stores.workspaces._table.scan(ProjectionExpression="pk")["Items"]
    assert sum(1 for i in partitions if str(i["pk"]).startswith("workspace#")) == 2  # main's scenario+tag


# --- scenarios ------------------------------------------------------------------------------------------


def test_create_scenario_answers_201_created_without_result(
    client: TestClient, scenario_body: dict[str, Any], main_id: str
) -> None:
    response = client.post(_scenarios(main_id), json=scenario_body)

    scenario = response.json()
    assert response.status_code == 201, response.text
    assert (scenario["status"], scenario["result"], scenario["execution_id"]) == ("CREATED", None, None)
    assert scenario["dataset_ids"] == scenario_body["dataset_ids"]
    assert client.get(f"{_scenarios(main_id)}/{scenario['id']}").json() == scenario


def test_create_scenario_resolves_an_algorithm_by_name_and_major(
    client: TestClient, scenario_body: dict[str, Any], main_id: str, threshold_id: str
) -> None:
    body = {**scenario_body, "algorithm_name": "threshold", "algorithm_major_version": 1}
    del body["algorithm_id"]

    response = client.post(_scenarios(main_id), json=body)

    assert response.status_code == 201, response.text
    assert response.json()["algorithm_id"] == threshold_id


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"algorithm_id": UNKNOWN_ID}, 404, "not_found"),
        ({"algorithm_id": None, "algorithm_name": "nowhere", "algorithm_major_version": 1}, 404, "not_found"),
        ({"dataset_ids": [UNKNOWN_ID]}, 404, "not_found"),
        ({"parameters": {"threshold": "high"}}, 422, "invalid_input"),
        ({"parameters": {"operation": "invert"}}, 422, "invalid_input"),
        ({"tag": ""}, 422, None),
        ({"dataset_ids": []}, 422, None),
        ({"unknown": 1}, 422, None),
    ],
)
def test_create_scenario_refuses_what_would_fail_and_stores_nothing(
    client: TestClient,
    scenario_body: dict[str, Any],
    main_id: str,
    change: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    body = {k: v for k, v in {**scenario_body, **change}.items() if v is not None}

    response = client.post(_scenarios(main_id), json=body)

    assert response.status_code == status, response.text
    assert code is None or response.json()["code"] == code
    assert client.get(_scenarios(main_id)).json()["scenarios"] == []


def test_create_scenario_refuses_a_taken_tag(
    client: TestClient, scenario_body: dict[str, Any], main_id: str
) -> None:
    _create_scenario(client, main_id, scenario_body)

    response = client.post(_scenarios(main_id), json=scenario_body)

    assert (response.status_code, response.json()["code"]) == (409, "already_exists")


def test_create_scenario_racing_creates_of_one_tag_give_one(
    client: TestClient, scenario_body: dict[str, Any], main_id: str
) -> None:
    answers = _race(*(lambda: client.post(_scenarios(main_id), json=scenario_body) for _ in range(2)))

    assert sorted(a.status_code for a in answers) == [201, 409]
    assert len(client.get(_scenarios(main_id)).json()["scenarios"]) == 1


def test_scenario_routes_answer_404_for_another_tenants_scenario(
    client: TestClient, client_for: Callable[[str], TestClient], scenario_body: dict[str, Any], main_id: str
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)
    other = client_for("other")
    path = f"{_scenarios(main_id)}/{scenario['id']}"

    answers = [
        other.get(path),
        other.get(f"{path}/status"),
        other.post(f"{path}/run"),
        other.post(f"{path}/reset"),
        other.delete(path),
        other.post(_scenarios(main_id), json={**scenario_body, "tag": "theirs"}),
        client.get(f"{_scenarios(main_id)}/{UNKNOWN_ID}"),
    ]

    assert [a.status_code for a in answers] == [404] * 7
    assert client.get(path).json()["status"] == "CREATED"


def test_create_scenario_takes_a_sample_for_its_files(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str, input_id: str
) -> None:
    sample = client.post("/api/v0/sample", json={"files": [{"input": [input_id]}], "tags": []}).json()
    body = {**scenario_body, "dataset_ids": [sample["sample_id"]]}
    scenario = _create_scenario(client, main_id, body)

    run = _run(client, main_id, scenario["id"]).json()

    assert run["dataset_ids"] == [sample["sample_id"]]
    assert stores.executions.get(run["execution_id"]).input_dataset_ids == [input_id]


def test_run_scenario_starts_an_execution_and_answers_202_pending(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str, input_id: str
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)

    response = _run(client, main_id, scenario["id"])

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "PENDING"
    execution = stores.executions.get(response.json()["execution_id"])
    assert execution.input_dataset_ids == [input_id]
    assert execution.additional_parameters == {"operation": "threshold", "threshold": 0.5}
    assert _run(client, main_id, scenario["id"]).status_code == 409


def test_run_scenario_racing_runs_start_one_execution(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str, app_settings: Settings
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)

    answers = _race(*(lambda: _run(client, main_id, scenario["id"]) for _ in range(3)))

    assert sorted(a.status_code for a in answers) == [202, 409, 409]
    runs = aws_clients.client("stepfunctions").list_executions(
        stateMachineArn=app_settings.execution_state_machine_arn
    )["executions"]
    assert len(runs) == 1
    executions, _ = stores.executions.list_recent("local", 10, None)
    assert [e.execution_id for e in executions] == [runs[0]["name"]]


def test_run_scenario_stops_the_execution_when_the_scenario_went_meanwhile(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str, app_settings: Settings
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)
    workspace, stale = stores.workspaces.workspace_and_scenario("local", main_id, scenario["id"])
    client.delete(f"{_scenarios(main_id)}/{scenario['id']}")
    machine_arn = app_settings.execution_state_machine_arn
    assert machine_arn is not None
    machine = StateMachineStore(aws_clients.client("stepfunctions"), machine_arn)

    with pytest.raises(NotFoundError, match="scenario not found"):
        scenarios.run(workspace, stale, stores, machine)

    (execution,), _ = stores.executions.list_recent("local", 10, None)
    assert execution.status.value == "STOPPED"


def test_scenario_shows_its_executions_result_and_kpis_once_completed(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str, input_id: str
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)
    execution_id = _run(client, main_id, scenario["id"]).json()["execution_id"]
    path = f"{_scenarios(main_id)}/{scenario['id']}"
    before = client.get(f"{path}/status").json()

    _complete(stores, execution_id, [input_id], dice=0.9)

    status = client.get(f"{path}/status").json()
    shown = client.get(path).json()
    assert (before["status"], before["progress"]) == ("PENDING", 0.0)
    assert status == {"id": scenario["id"], "tag": "cut-0.5", "status": "COMPLETED", "progress": 1.0}
    assert shown["result"] == {"output_dataset_ids": [input_id]}
    assert shown["kpis"] == {"dice": {"name": "dice", "value": 0.9, "unit": None}}


def test_scenario_keeps_its_result_after_its_execution_expired(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str, input_id: str
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)
    execution_id = _run(client, main_id, scenario["id"]).json()["execution_id"]
    _complete(stores, execution_id, [input_id])
    path = f"{_scenarios(main_id)}/{scenario['id']}"
    client.get(f"{path}/status")  # read once final: the outcome is kept

    stores.executions._table.delete_item(Key=stores.executions.key(execution_id))

    assert client.get(path).json()["result"] == {"output_dataset_ids": [input_id]}


def test_scenario_shows_a_failed_executions_error(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)
    execution_id = _run(client, main_id, scenario["id"]).json()["execution_id"]

    stores.executions.fail(execution_id, JobError(type="ValueError", message="no data"))

    shown = client.get(f"{_scenarios(main_id)}/{scenario['id']}").json()
    assert (shown["status"], shown["result"]) == ("FAILED", None)
    assert shown["error"] == {"type": "ValueError", "message": "no data"}


def test_reset_scenario_refuses_while_its_execution_runs(
    client: TestClient, scenario_body: dict[str, Any], main_id: str
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)
    _run(client, main_id, scenario["id"])

    response = client.post(f"{_scenarios(main_id)}/{scenario['id']}/reset")

    assert (response.status_code, response.json()["code"]) == (409, "illegal_transition")


def test_reset_scenario_clears_the_result_and_runs_again(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str, input_id: str
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)
    first = _run(client, main_id, scenario["id"]).json()["execution_id"]
    _complete(stores, first, [input_id])

    reset = client.post(f"{_scenarios(main_id)}/{scenario['id']}/reset")
    again = _run(client, main_id, scenario["id"])

    assert reset.status_code == 200
    assert (reset.json()["status"], reset.json()["result"], reset.json()["execution_id"]) == (
        "CREATED",
        None,
        None,
    )
    assert again.status_code == 202 and again.json()["execution_id"] not in (None, first)
    assert stores.executions.get(first).status.value == "COMPLETED"  # an ordinary execution, kept


def test_reset_scenario_is_a_no_op_when_created(
    client: TestClient, scenario_body: dict[str, Any], main_id: str
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)

    response = client.post(f"{_scenarios(main_id)}/{scenario['id']}/reset")

    assert response.status_code == 200 and response.json() == scenario


def test_delete_scenario_answers_204_frees_its_tag_and_keeps_its_execution(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str
) -> None:
    scenario = _create_scenario(client, main_id, scenario_body)
    execution_id = _run(client, main_id, scenario["id"]).json()["execution_id"]

    response = client.delete(f"{_scenarios(main_id)}/{scenario['id']}")

    assert response.status_code == 204
    assert client.get(f"{_scenarios(main_id)}/{scenario['id']}").status_code == 404
    assert client.post(_scenarios(main_id), json=scenario_body).status_code == 201
    assert stores.executions.get(execution_id).status.value == "PENDING"


def test_processing_lists_the_scenarios_whose_execution_has_not_ended(
    client: TestClient, stores: Stores, scenario_body: dict[str, Any], main_id: str, input_id: str
) -> None:
    ids = [_create_scenario(client, main_id, {**scenario_body, "tag": t})["id"] for t in "abc"]
    done = _run(client, main_id, ids[0]).json()["execution_id"]
    _run(client, main_id, ids[1])
    _complete(stores, done, [input_id])

    response = client.get(f"{WORKSPACES}/{main_id}/processing")

    assert [s["id"] for s in response.json()["scenarios"]] == [ids[1]]


def test_scenario_create_model_forbids_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        ScenarioCreate.model_validate(
            {"tag": "t", "algorithm_id": UNKNOWN_ID, "dataset_ids": [UNKNOWN_ID], "extra": 1}
        )
