"""Executions API through the FastAPI app: up-front checks, the PENDING record and its run, idempotent
retries, reads, lists, logs and stops (moto's Step Functions holds the runs), and the holds on the inputs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stratus import aws as aws_clients
from stratus.api import create_app
from stratus.errors import RunSlotsBusyError
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.executions import ExecutionError, ExecutionRecord, ExecutionStatus
from stratus.services import algorithms, executions, files, jobs
from stratus.settings import Settings, get_settings
from stratus.stores import Stores

from gpu_worker.builtins import builtin_zip
from tests.conftest import MovableClock, job_plan

EXECUTE = "/api/v0/execute-algorithm"
# Past an input's own expiry (FileLifetimeDays, 1 by default), well within the hold's ceiling.
PAST_FILE_LIFETIME = 86_400 + 60
OCTET = {"content-type": "application/octet-stream"}
# A stand-in for statemachines/execution.asl.json: these tests check the run is started, not what it does.
DEFINITION = {"StartAt": "Accept", "States": {"Accept": {"Type": "Pass", "End": True}}}
ROLE_ARN = "arn:aws:iam::123456789012:role/execution-test"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def machine_arn(aws: None) -> str:
    sfn = aws_clients.client("stepfunctions")
    created = sfn.create_state_machine(
        name="execution-test", definition=json.dumps(DEFINITION), roleArn=ROLE_ARN
    )
    arn: str = created["stateMachineArn"]
    return arn


@pytest.fixture
def app_settings(settings: Settings, machine_arn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("EXECUTION_STATE_MACHINE_ARN", machine_arn)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def gateway_app(app_settings: Settings, stores: Stores) -> Any:
    return create_app(app_settings, stores)


@pytest.fixture
def request_body(threshold_id: str, input_id: str) -> dict[str, Any]:
    return {"algorithm_id": threshold_id, "input_dataset_ids": [input_id]}


def _execute(client: TestClient, body: dict[str, Any], **headers: str) -> str:
    response = client.post(EXECUTE, json=body, headers=headers)
    assert response.status_code == 200, response.text
    execution_id: str = response.json()["execution_id"]
    return execution_id


def _runs(machine_arn: str) -> list[dict[str, Any]]:
    executions: list[dict[str, Any]] = aws_clients.client("stepfunctions").list_executions(
        stateMachineArn=machine_arn
    )["executions"]
    return executions


def _complete(stores: Stores, execution_id: str) -> None:
    stores.executions.mark_started(execution_id)
    stores.executions.mark_running(execution_id, {"resolved_execution_device": "cpu"})
    stores.executions.finish(execution_id, [])


def test_execute_algorithm_stores_pending_record(
    client: TestClient, stores: Stores, request_body: dict[str, Any], threshold_id: str
) -> None:
    execution_id = _execute(client, request_body)

    record = stores.executions.get(execution_id)
    assert record.status is ExecutionStatus.PENDING
    assert (record.algorithm_id, record.algorithm_minor_version) == (threshold_id, "0")
    assert record.input_dataset_ids == request_body["input_dataset_ids"]
    assert record.session_token


def test_execute_algorithm_names_algorithm_by_name_and_major(
    client: TestClient, stores: Stores, input_id: str, threshold_id: str
) -> None:
    body = {"algorithm_name": "threshold", "algorithm_major_version": "1", "input_dataset_ids": [input_id]}

    execution_id = _execute(client, body)

    assert stores.executions.get(execution_id).algorithm_id == threshold_id
    assert client.get(f"/api/v0/executions/{execution_id}").json()["algorithm_id"] == threshold_id


@pytest.mark.parametrize(
    "naming",
    [
        {"algorithm_name": "threshold"},
        {"algorithm_major_version": 1},
        {"algorithm_id": UNKNOWN_ID, "algorithm_name": "threshold", "algorithm_major_version": 1},
        {},
    ],
    ids=["name_without_major", "major_without_name", "id_and_name", "nothing"],
)
def test_execute_algorithm_refuses_ambiguous_naming(
    client: TestClient, input_id: str, threshold_id: str, machine_arn: str, naming: dict[str, Any]
) -> None:
    response = client.post(EXECUTE, json={**naming, "input_dataset_ids": [input_id]})

    assert response.status_code == 422, response.text
    assert _runs(machine_arn) == []


@pytest.mark.parametrize("naming", [("threshold", 2), ("no-such-algorithm", 1)], ids=["major", "name"])
def test_execute_algorithm_rejects_unknown_name(
    client: TestClient, input_id: str, threshold_id: str, machine_arn: str, naming: tuple[str, int]
) -> None:
    name, major = naming
    body = {"algorithm_name": name, "algorithm_major_version": major, "input_dataset_ids": [input_id]}

    response = client.post(EXECUTE, json=body)

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert _runs(machine_arn) == []


def test_prefer_wait_answers_as_without_it_when_the_job_runs_on(
    client: TestClient, request_body: dict[str, Any]
) -> None:
    # The stand-in state machine never moves the record: the wait ends with the job still PENDING.
    response = client.post(EXECUTE, json=request_body, headers={"Prefer": "wait=1"})

    assert response.status_code == 200
    assert set(response.json()) == {"execution_id"}
    assert "preference-applied" not in response.headers


def test_execute_algorithm_starts_run_named_by_execution_id(
    client: TestClient, machine_arn: str, request_body: dict[str, Any]
) -> None:
    execution_id = _execute(client, request_body)

    sfn = aws_clients.client("stepfunctions")
    run = sfn.describe_execution(
        executionArn=f"{machine_arn.replace(':stateMachine:', ':execution:')}:{execution_id}"
    )
    assert run["name"] == execution_id
    assert json.loads(run["input"]) == {"execution_id": execution_id, "device": "cpu"}


def test_execute_algorithm_keeps_given_session_token(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    execution_id = _execute(client, {**request_body, "session_token": "my-session"})

    assert stores.executions.get(execution_id).session_token == "my-session"


def test_execute_algorithm_runs_gpu_default_on_cuda(
    client: TestClient, stores: Stores, settings: Settings, input_id: str, machine_arn: str
) -> None:
    denoise = algorithms.deploy(builtin_zip("gaussian_denoise"), BUILTIN_OWNER, stores, settings)
    denoise_id = denoise.algorithm_id

    _execute(client, {"algorithm_id": denoise_id, "input_dataset_ids": [input_id]})

    run = aws_clients.client("stepfunctions").describe_execution(
        executionArn=_runs(machine_arn)[0]["executionArn"]
    )
    assert json.loads(run["input"])["device"] == "cuda"


def test_execute_algorithm_rejects_unknown_input(client: TestClient, request_body: dict[str, Any]) -> None:
    body = {**request_body, "input_dataset_ids": ["00000000-0000-4000-8000-000000000000"]}

    response = client.post(EXECUTE, json=body)

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_execute_algorithm_rejects_expired_input(
    client: TestClient, request_body: dict[str, Any], clock: MovableClock
) -> None:
    clock.advance(2 * 86_400)

    response = client.post(EXECUTE, json=request_body)

    assert response.status_code == 404


def test_execute_algorithm_rejects_input_not_ready(client: TestClient, request_body: dict[str, Any]) -> None:
    pending_id = client.post("/api/v0/files/uploads", json={"size": 1000}).json()["file_id"]

    response = client.post(EXECUTE, json={**request_body, "input_dataset_ids": [pending_id]})

    assert (response.status_code, response.json()["code"]) == (409, "not_ready")


@pytest.mark.parametrize(
    "change",
    [{"algorithm_id": UNKNOWN_ID}, {"algorithm_minor_version": "7"}, {"checkpoint_id": UNKNOWN_ID}],
    ids=["algorithm", "minor_version", "checkpoint"],
)
def test_execute_algorithm_rejects_unknown_reference(
    client: TestClient, request_body: dict[str, Any], machine_arn: str, change: dict[str, str]
) -> None:
    response = client.post(EXECUTE, json={**request_body, **change})

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert _runs(machine_arn) == []


@pytest.mark.parametrize("device", ["gpu", "cuda:0", "tpu"])
def test_execute_algorithm_rejects_unsupported_device(
    client: TestClient, request_body: dict[str, Any], device: str
) -> None:
    response = client.post(EXECUTE, json={**request_body, "execution_device_override": device})

    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")


def test_execute_algorithm_rejects_bad_parameter_by_name(
    client: TestClient, request_body: dict[str, Any]
) -> None:
    body = {**request_body, "additional_parameters": {"threshold": "high"}}

    response = client.post(EXECUTE, json=body)

    assert response.status_code == 422
    assert "'threshold'" in response.json()["detail"]


def test_execute_algorithm_retry_with_same_key_returns_same_execution(
    client: TestClient, request_body: dict[str, Any], machine_arn: str
) -> None:
    first = _execute(client, request_body, **{"Idempotency-Key": "retry-1"})

    second = _execute(client, request_body, **{"Idempotency-Key": "retry-1"})

    assert second == first
    assert [run["name"] for run in _runs(machine_arn)] == [first]


def test_execute_algorithm_rejects_same_key_with_other_body(
    client: TestClient, request_body: dict[str, Any]
) -> None:
    _execute(client, request_body, **{"Idempotency-Key": "retry-2"})
    other = {**request_body, "additional_parameters": {"threshold": 0.9}}

    response = client.post(EXECUTE, json=other, headers={"Idempotency-Key": "retry-2"})

    assert (response.status_code, response.json()["code"]) == (409, "conflict")


def test_execute_algorithm_marks_record_failed_when_run_does_not_start(
    settings: Settings,
    stores: Stores,
    request_body: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    authenticate: Callable[..., TestClient],
) -> None:
    monkeypatch.setenv(
        "EXECUTION_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:missing"
    )
    get_settings.cache_clear()
    client = authenticate(create_app(get_settings(), stores), raise_server_exceptions=False)

    response = client.post(EXECUTE, json=request_body)

    records, _ = stores.executions.list_recent("local", 10, None)
    assert response.status_code == 500
    assert [r.status for r in records] == [ExecutionStatus.FAILED]


def test_execute_algorithm_releases_inputs_when_run_does_not_start(
    settings: Settings,
    stores: Stores,
    authenticate: Callable[..., TestClient],
    request_body: dict[str, Any],
    input_id: str,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "EXECUTION_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:missing"
    )
    get_settings.cache_clear()
    client = authenticate(create_app(get_settings(), stores), raise_server_exceptions=False)

    client.post(EXECUTE, json=request_body)

    clock.advance(PAST_FILE_LIFETIME)
    assert client.get(f"/api/v0/files/{input_id}/status").status_code == 404


def test_execute_algorithm_keeps_input_past_its_own_expiry(
    client: TestClient, request_body: dict[str, Any], input_id: str, clock: MovableClock
) -> None:
    _execute(client, request_body)

    clock.advance(PAST_FILE_LIFETIME)

    assert client.get(f"/api/v0/files/{input_id}/status").status_code == 200


def test_input_expires_once_its_execution_ends(
    client: TestClient, stores: Stores, request_body: dict[str, Any], input_id: str, clock: MovableClock
) -> None:
    execution_id = _execute(client, request_body)
    _complete(stores, execution_id)
    clock.advance(PAST_FILE_LIFETIME)

    executions.finalize(execution_id, stores)  # the state machine's last task

    assert client.get(f"/api/v0/files/{input_id}/status").status_code == 404


def test_delete_input_of_running_execution_is_409(
    client: TestClient, request_body: dict[str, Any], input_id: str
) -> None:
    execution_id = _execute(client, request_body)

    response = client.delete(f"/api/v0/files/{input_id}")

    assert (response.status_code, response.json()["code"]) == (409, "file_in_use")
    assert execution_id in response.json()["detail"]
    assert client.get(f"/api/v0/files/{input_id}").status_code == 200


def test_get_execution_returns_record(client: TestClient, request_body: dict[str, Any]) -> None:
    execution_id = _execute(client, request_body)

    response = client.get(f"/api/v0/executions/{execution_id}")

    assert response.status_code == 200
    assert (response.json()["execution_id"], response.json()["status"]) == (execution_id, "PENDING")


def test_get_execution_rejects_unknown_id(client: TestClient) -> None:
    response = client.get("/api/v0/executions/00000000-0000-4000-8000-000000000000")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_get_execution_hides_expired_execution(
    client: TestClient, request_body: dict[str, Any], clock: MovableClock
) -> None:
    execution_id = _execute(client, request_body)
    clock.advance(8 * 86_400)

    response = client.get(f"/api/v0/executions/{execution_id}")

    assert response.status_code == 404


def test_list_executions_filters_by_status_and_algorithm(
    client: TestClient, stores: Stores, request_body: dict[str, Any], threshold_id: str
) -> None:
    completed = _execute(client, request_body)
    pending = _execute(client, request_body)
    _complete(stores, completed)

    by_status = client.get("/api/v0/executions", params={"status": "PENDING"}).json()
    by_algorithm = client.get("/api/v0/executions", params={"algorithm_id": threshold_id}).json()
    by_other = client.get("/api/v0/executions", params={"algorithm_id": UNKNOWN_ID}).json()

    assert [item["execution_id"] for item in by_status["items"]] == [pending]
    assert {item["execution_id"] for item in by_algorithm["items"]} == {completed, pending}
    assert by_other["items"] == []


def test_list_executions_pages_with_cursor(
    client: TestClient, request_body: dict[str, Any], clock: MovableClock
) -> None:
    ids = []
    for _ in range(3):
        ids.append(_execute(client, request_body))
        clock.advance(1)

    first = client.get("/api/v0/executions", params={"limit": 2}).json()
    second = client.get("/api/v0/executions", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    seen = [item["execution_id"] for item in first["items"] + second["items"]]
    assert seen == list(reversed(ids))
    assert second["next_cursor"] is None


def test_stop_execution_stops_pending_execution(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    execution_id = _execute(client, request_body)

    response = client.post(f"/api/v0/executions/{execution_id}/stop")

    record = stores.executions.get(execution_id)
    assert response.status_code == 200
    assert response.json() == {"detail": f"Execution {execution_id} is STOPPED."}
    assert record.status is ExecutionStatus.STOPPED
    assert record.stop_requested_at is not None


def test_stop_execution_rejects_completed_execution(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    execution_id = _execute(client, request_body)
    _complete(stores, execution_id)

    response = client.post(f"/api/v0/executions/{execution_id}/stop")

    assert (response.status_code, response.json()["code"]) == (409, "illegal_transition")
    assert stores.executions.get(execution_id).status is ExecutionStatus.COMPLETED


def test_stop_execution_rejects_unknown_id(client: TestClient) -> None:
    response = client.post("/api/v0/executions/00000000-0000-4000-8000-000000000000/stop")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_stop_execution_releases_its_inputs(
    client: TestClient, request_body: dict[str, Any], input_id: str, clock: MovableClock
) -> None:
    execution_id = _execute(client, request_body)

    client.post(f"/api/v0/executions/{execution_id}/stop")

    clock.advance(PAST_FILE_LIFETIME)
    assert client.get(f"/api/v0/files/{input_id}/status").status_code == 404


def test_execute_algorithm_rejects_mps_and_stores_nothing(
    client: TestClient,
    stores: Stores,
    settings: Settings,
    request_body: dict[str, Any],
    input_id: str,
    machine_arn: str,
) -> None:
    body = {**request_body, "execution_device_override": "mps"}

    response = client.post(EXECUTE, json=body, headers={"Idempotency-Key": "mps-1"})

    assert response.status_code == 422
    assert set(response.json()) == {"detail", "code"}
    assert response.json()["code"] == "invalid_input"
    assert "mps" in response.json()["detail"]
    assert stores.executions.list_recent("local", 10, None)[0] == []
    assert stores.files.get(input_id).held_by == frozenset()
    assert _runs(machine_arn) == []
    # The key was not used up: the same key with a valid body is accepted.
    assert _execute(client, request_body, **{"Idempotency-Key": "mps-1"})


def _logged(client: TestClient, stores: Stores, body: dict[str, Any], lines: list[list[str]]) -> str:
    """An execution whose worker wrote ``lines`` in flushes, one list each."""
    execution_id = _execute(client, body)
    stores.executions.mark_started(execution_id)
    stores.executions.mark_running(execution_id, {"resolved_execution_device": "cpu"})
    for flush in lines:
        stores.executions.append_log(execution_id, flush)
    return execution_id


def _logs(client: TestClient, execution_id: str, **params: int) -> dict[str, Any]:
    response = client.get(f"/api/v0/executions/{execution_id}/logs", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_execution_logs_returns_every_line_numbered_from_zero(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    execution_id = _logged(client, stores, request_body, [["one", "two"], ["three"]])

    page = _logs(client, execution_id)

    assert page == {
        "lines": [{"line": 0, "text": "one"}, {"line": 1, "text": "two"}, {"line": 2, "text": "three"}],
        "next_line": 3,
    }


def test_execution_logs_pages_by_limit_and_next_line(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    written = [f"line {n}" for n in range(7)]
    execution_id = _logged(client, stores, request_body, [written[:3], written[3:5], written[5:]])

    seen: list[str] = []
    from_line = 0
    for _ in range(4):
        page = _logs(client, execution_id, from_line=from_line, limit=3)
        seen.extend(line["text"] for line in page["lines"])
        from_line = page["next_line"]

    assert seen == written
    assert from_line == 7


def test_execution_logs_reads_from_a_line_inside_a_flush(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    execution_id = _logged(client, stores, request_body, [["a", "b", "c"], ["d", "e"]])

    page = _logs(client, execution_id, from_line=1, limit=3)

    assert [(line["line"], line["text"]) for line in page["lines"]] == [(1, "b"), (2, "c"), (3, "d")]
    assert page["next_line"] == 4


def test_execution_logs_past_the_end_is_empty_and_follows_on(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    execution_id = _logged(client, stores, request_body, [["a", "b"]])
    assert _logs(client, execution_id, from_line=2) == {"lines": [], "next_line": 2}

    stores.executions.append_log(execution_id, ["c"])

    assert _logs(client, execution_id, from_line=2) == {"lines": [{"line": 2, "text": "c"}], "next_line": 3}


def test_execution_logs_keeps_lines_the_record_tail_dropped(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    big = [f"{n:04d} " + "x" * 1000 for n in range(40)]
    execution_id = _logged(client, stores, request_body, [big[:20], big[20:]])

    page = _logs(client, execution_id, limit=100)
    record = client.get(f"/api/v0/executions/{execution_id}").json()

    assert [line["text"] for line in page["lines"]] == big
    assert big[0] not in record["log"] and record["log"].endswith(big[-1] + "\n")


def test_execution_logs_include_the_failure(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    execution_id = _logged(client, stores, request_body, [["working"]])
    stores.executions.fail(
        execution_id, ExecutionError(type="RuntimeError", message="boom"), "Traceback: boom"
    )

    page = _logs(client, execution_id)

    assert [line["text"] for line in page["lines"]] == ["working", "Traceback: boom"]


@pytest.mark.parametrize("params", [{"from_line": -1}, {"limit": 0}, {"limit": 5001}])
def test_execution_logs_rejects_bad_paging(
    client: TestClient, request_body: dict[str, Any], params: dict[str, int]
) -> None:
    execution_id = _execute(client, request_body)

    response = client.get(f"/api/v0/executions/{execution_id}/logs", params=params)

    assert response.status_code == 422


def test_execution_logs_rejects_unknown_id(client: TestClient) -> None:
    response = client.get("/api/v0/executions/00000000-0000-4000-8000-000000000000/logs")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_execution_logs_hides_another_tenants_execution(
    client: TestClient, stores: Stores, clock: MovableClock
) -> None:
    record = ExecutionRecord(
        execution_id="00000000-0000-4000-8000-000000000001",
        tenant="someone-else",
        algorithm_id="algorithm-1",
        input_dataset_ids=[],
        created_at=clock(),
        expires_at=int(clock()) + 86_400,
        plan=job_plan(),
    )
    stores.executions.create(record)
    stores.executions.append_log(record.execution_id, ["secret"])

    response = client.get(f"/api/v0/executions/{record.execution_id}/logs")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize("repeat", [0, 2], ids=["empty", "twice"])
def test_execute_algorithm_refuses_empty_or_repeated_inputs_and_stores_nothing(
    client: TestClient, stores: Stores, request_body: dict[str, Any], machine_arn: str, repeat: int
) -> None:
    body = {**request_body, "input_dataset_ids": request_body["input_dataset_ids"] * repeat}

    response = client.post(EXECUTE, json=body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "input_dataset_ids"]
    assert stores.executions.list_recent("local", 10, None)[0] == []
    assert _runs(machine_arn) == []


def test_execute_algorithm_racing_the_delete_of_its_input_stores_nothing(
    client: TestClient,
    stores: Stores,
    request_body: dict[str, Any],
    input_id: str,
    machine_arn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan_job = jobs.plan_job

    def delete_then_plan(*args: Any, **kwargs: Any) -> Any:
        # The delete lands after the execute read its input and before its transaction.
        files.delete_file(input_id, "local", stores)
        return plan_job(*args, **kwargs)

    monkeypatch.setattr(jobs, "plan_job", delete_then_plan)

    response = client.post(EXECUTE, json=request_body)

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert stores.executions.list_recent("local", 10, None)[0] == []
    assert _runs(machine_arn) == []


def _limit(stores: Stores, queued: int, running: int) -> None:
    stores.quotas.max_queued, stores.quotas.max_running = queued, running


def test_execute_algorithm_answers_429_beyond_the_tenants_queued_cap(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    _limit(stores, queued=2, running=2)
    kept = [_execute(client, request_body) for _ in range(2)]

    refused = client.post(EXECUTE, json=request_body)

    assert (refused.status_code, refused.json()["code"]) == (429, "too_many_requests")
    assert int(refused.headers["retry-after"]) > 0
    records, _ = stores.executions.list_recent("local", 10, None)
    assert sorted(r.execution_id for r in records) == sorted(kept)


def test_queued_cap_counts_each_tenant_apart(
    client: TestClient,
    client_for: Callable[[str], TestClient],
    stores: Stores,
    request_body: dict[str, Any],
    hdf5_file: Callable[..., bytes],
) -> None:
    _limit(stores, queued=1, running=1)
    _execute(client, request_body)
    acme = client_for("acme")
    own_input = acme.post("/api/v0/files", content=hdf5_file(), headers=OCTET).json()["file_id"]

    answer = acme.post(EXECUTE, json={**request_body, "input_dataset_ids": [own_input]})

    assert answer.status_code == 200, answer.text


def test_ended_job_frees_its_place_in_the_queue(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    _limit(stores, queued=1, running=1)
    first = _execute(client, request_body)
    client.post(f"/api/v0/executions/{first}/stop")

    assert client.post(EXECUTE, json=request_body).status_code == 200


def test_lost_release_does_not_cost_a_place_for_ever(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    _limit(stores, queued=1, running=1)
    first = _execute(client, request_body)
    _complete(stores, first)  # ended without its release (as if the finalizing task was lost)

    assert client.post(EXECUTE, json=request_body).status_code == 200


def test_mark_started_waits_while_the_tenant_runs_its_cap(
    client: TestClient, stores: Stores, request_body: dict[str, Any]
) -> None:
    _limit(stores, queued=5, running=1)
    first, second = _execute(client, request_body), _execute(client, request_body)
    executions.mark_started(first, stores)

    with pytest.raises(RunSlotsBusyError):
        executions.mark_started(second, stores)
    _complete_started(stores, first)
    executions.finalize(first, stores)

    assert executions.mark_started(second, stores).status is ExecutionStatus.STARTED


def _complete_started(stores: Stores, execution_id: str) -> None:
    stores.executions.mark_running(execution_id, {"resolved_execution_device": "cpu"})
    stores.executions.finish(execution_id, [])
