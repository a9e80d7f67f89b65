"""The execution workflow through the local stack, as a client sees it: every path runs the real API,
moto's ASL interpreter with statemachines/execution.asl.json, Batch jobs as worker processes, and the
built-in `threshold` or an uploaded Compox package (packages/behaviours)."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import pytest
from stratus.algorithms import package_from_folder
from stratus.local.process import LocalStackProcess, batch_job
from stratus.stores import StateMachineStore

pytestmark = pytest.mark.e2e

BEHAVIOURS = Path(__file__).resolve().parent / "packages" / "behaviours"
EXECUTE = "/api/v0/execute-algorithm"
OCTET = {"content-type": "application/octet-stream"}
FINAL = {"COMPLETED", "FAILED", "STOPPED"}
TIMEOUT_S = 60
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def aws_clients(local_stack: LocalStackProcess) -> dict[str, Any]:
    return {name: local_stack.client(name) for name in ("stepfunctions", "batch")}


@pytest.fixture(scope="module")
def algorithm_ids(local_stack: LocalStackProcess, auth_headers: dict[str, str]) -> dict[str, str]:
    """The built-in threshold and the uploaded behaviours package, by name."""
    with httpx.Client(base_url=local_stack.api_url, timeout=60, headers=auth_headers) as api:
        deployed = api.post(
            "/api/v0/algorithms",
            content=package_from_folder(BEHAVIOURS),
            headers={"content-type": "application/zip"},
        )
        assert deployed.status_code == 201, deployed.text
        listed = api.get("/api/v0/algorithm/all").json()
    return {a["algorithm_name"]: a["algorithm_id"] for a in listed}


def _hdf5(data: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=data)
    return buffer.getvalue()


def _read(body: bytes) -> np.ndarray:
    with h5py.File(io.BytesIO(body), "r") as handle:
        return np.asarray(handle["data"][()])


@pytest.fixture
def input_id(api: httpx.Client) -> str:
    data = np.array([[0.2, 0.7], [0.9, 0.1]], dtype=np.float32)
    response = api.post("/api/v0/files", content=_hdf5(data), headers=OCTET)
    assert response.status_code == 200, response.text
    return str(response.json()["file_id"])


def _execute(api: httpx.Client, algorithm_id: str, input_id: str, **fields: Any) -> str:
    body = {"algorithm_id": algorithm_id, "input_dataset_ids": [input_id], **fields}
    response = api.post(EXECUTE, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["execution_id"])


def _behave(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, behaviour: str, **fields: Any
) -> str:
    parameters = {"behaviour": behaviour}
    return _execute(
        api, algorithm_ids["e2e_behaviours"], input_id, additional_parameters=parameters, **fields
    )


def _wait(api: httpx.Client, execution_id: str, statuses: set[str] = FINAL) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        record: dict[str, Any] = api.get(f"/api/v0/executions/{execution_id}").json()
        if record["status"] in statuses:
            return record
        time.sleep(0.02)
    raise AssertionError(f"execution {execution_id} never reached {statuses}: {record}")


def _run(aws_clients: dict[str, Any], execution_id: str, poll: Callable[..., None]) -> dict[str, Any]:
    """The execution's Step Functions run once it ended (named after the execution id)."""
    sfn = aws_clients["stepfunctions"]
    machines = sfn.list_state_machines()["stateMachines"]
    (machine,) = [m["stateMachineArn"] for m in machines if "Execution" in m["name"]]
    arn = StateMachineStore(sfn, machine).execution_arn(execution_id)
    poll(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", TIMEOUT_S)
    run: dict[str, Any] = sfn.describe_execution(executionArn=arn)
    return run


def _job(aws_clients: dict[str, Any], execution_id: str) -> dict[str, Any]:
    """The execution's Batch job (named after the execution id)."""
    return batch_job(aws_clients["batch"], execution_id)


def test_threshold_round_trip(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, aws_clients: dict[str, Any], poll
) -> None:
    execution_id = _execute(
        api, algorithm_ids["threshold"], input_id, additional_parameters={"threshold": 0.5}
    )

    record = _wait(api, execution_id)

    assert record["status"] == "COMPLETED", record["log"]
    assert record["progress"] == 1.0 and record["time_started"] and record["time_completed"]
    assert record["resolved_execution_device"] == "cpu" and record["session_token"]
    (output_id,) = record["output_dataset_ids"]
    np.testing.assert_array_equal(_read(api.get(f"/api/v0/files/{output_id}").content), [[0, 1], [1, 0]])
    assert _run(aws_clients, execution_id, poll)["status"] == "SUCCEEDED"
    assert api.delete(f"/api/v0/files/{output_id}").status_code == 200
    assert api.get(f"/api/v0/files/{output_id}").status_code == 404


def test_prefer_wait_answers_with_the_finished_record(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str
) -> None:
    body = {"algorithm_id": algorithm_ids["threshold"], "input_dataset_ids": [input_id]}

    response = api.post(EXECUTE, json=body, headers={"Prefer": "wait=25"})

    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "wait=25"
    record = response.json()
    assert record["status"] == "COMPLETED" and len(record["output_dataset_ids"]) == 1
    assert record == api.get(f"/api/v0/executions/{record['execution_id']}").json()


def test_uploaded_package_round_trip(api: httpx.Client, algorithm_ids: dict[str, str], input_id: str) -> None:
    record = _wait(api, _behave(api, algorithm_ids, input_id, "echo"))

    assert record["status"] == "COMPLETED", record["log"]
    (output_id,) = record["output_dataset_ids"]
    np.testing.assert_allclose(_read(api.get(f"/api/v0/files/{output_id}").content), [[0.2, 0.7], [0.9, 0.1]])


def test_algorithm_error_fails_with_traceback(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, aws_clients: dict[str, Any], poll
) -> None:
    execution_id = _behave(api, algorithm_ids, input_id, "fail")

    record = _wait(api, execution_id)

    assert record["status"] == "FAILED"
    assert record["error"] == {"type": "ValueError", "message": "the algorithm failed on purpose"}
    assert "Traceback" in record["log"] and "failed on purpose" in record["log"]
    assert record["output_dataset_ids"] == []
    run = _run(aws_clients, execution_id, poll)
    assert (run["status"], run["error"]) == ("FAILED", "ExecutionFailed")


def test_killed_algorithm_process_leaves_no_record_running(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, aws_clients: dict[str, Any], poll
) -> None:
    execution_id = _behave(api, algorithm_ids, input_id, "die")

    record = _wait(api, execution_id)

    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "RunnerCrashedError"
    assert "killed by SIGKILL" in record["error"]["message"]
    assert _job(aws_clients, execution_id)["status"] == "FAILED"
    assert _run(aws_clients, execution_id, poll)["error"] == "ExecutionFailed"


def test_stop_while_running_ends_record_job_and_run(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, aws_clients: dict[str, Any], poll
) -> None:
    execution_id = _behave(api, algorithm_ids, input_id, "run_until_stopped")
    _wait(api, execution_id, {"RUNNING"})

    stopped = api.post(f"/api/v0/executions/{execution_id}/stop")

    assert stopped.status_code == 200, stopped.text
    record = api.get(f"/api/v0/executions/{execution_id}").json()
    assert record["status"] == "STOPPED" and record["time_completed"]
    poll(lambda: _job(aws_clients, execution_id)["status"] == "FAILED", 10)
    assert _run(aws_clients, execution_id, poll)["status"] == "ABORTED"
    # Whatever the worker wrote on its way out, the record stays STOPPED.
    time.sleep(0.5)
    assert api.get(f"/api/v0/executions/{execution_id}").json()["status"] == "STOPPED"


def test_stop_after_completion_is_refused(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str
) -> None:
    execution_id = _behave(api, algorithm_ids, input_id, "echo")
    _wait(api, execution_id)

    response = api.post(f"/api/v0/executions/{execution_id}/stop")

    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    assert api.get(f"/api/v0/executions/{execution_id}").json()["status"] == "COMPLETED"


def test_retry_with_same_idempotency_key_runs_once(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, aws_clients: dict[str, Any], poll
) -> None:
    body = {"algorithm_id": algorithm_ids["threshold"], "input_dataset_ids": [input_id]}
    key = {"Idempotency-Key": str(uuid.uuid4())}

    first = api.post(EXECUTE, json=body, headers=key)
    second = api.post(EXECUTE, json=body, headers=key)

    assert first.status_code == second.status_code == 200
    execution_id = first.json()["execution_id"]
    assert second.json()["execution_id"] == execution_id
    assert _wait(api, execution_id)["status"] == "COMPLETED"
    assert _run(aws_clients, execution_id, poll)["status"] == "SUCCEEDED"


def test_session_is_shared_by_executions_with_its_token(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str
) -> None:
    first = _wait(api, _behave(api, algorithm_ids, input_id, "count_in_session"))
    token = first["session_token"]
    second = _wait(api, _behave(api, algorithm_ids, input_id, "count_in_session", session_token=token))
    other = _wait(api, _behave(api, algorithm_ids, input_id, "count_in_session"))

    counts = [
        int(_read(api.get(f"/api/v0/files/{record['output_dataset_ids'][0]}").content)[0])
        for record in (first, second, other)
    ]
    assert counts == [1, 2, 1]
    assert second["session_token"] == token != other["session_token"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"algorithm_id": UNKNOWN_ID}, 404, "not_found"),
        ({"input_dataset_ids": [UNKNOWN_ID]}, 404, "not_found"),
        ({"additional_parameters": {"threshold": "high"}}, 422, "invalid_input"),
        ({"additional_parameters": {"no_such_parameter": 1}}, 422, "invalid_input"),
        ({"execution_device_override": "cuda"}, 422, "invalid_input"),
    ],
)
def test_execute_rejects_bad_requests_before_running(
    api: httpx.Client,
    algorithm_ids: dict[str, str],
    input_id: str,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    body = {"algorithm_id": algorithm_ids["threshold"], "input_dataset_ids": [input_id], **change}
    before = _execution_ids(api)

    response = api.post(EXECUTE, json=body)

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert _execution_ids(api) == before


def _execution_ids(api: httpx.Client) -> list[str]:
    return [
        item["execution_id"] for item in api.get("/api/v0/executions", params={"limit": 100}).json()["items"]
    ]


def test_unknown_execution_ids_are_not_found(api: httpx.Client) -> None:
    assert api.get(f"/api/v0/executions/{UNKNOWN_ID}").status_code == 404
    assert api.post(f"/api/v0/executions/{UNKNOWN_ID}/stop").status_code == 404
