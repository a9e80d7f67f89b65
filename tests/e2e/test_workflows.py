"""Workflow DAGs through the local stack, as a client sees them: the real API, moto's ASL interpreter
running statemachines/workflow.asl.json with each step a child run of the execution (or training) state
machine, and Batch jobs as worker processes running the built-in `threshold` or the uploaded
behaviours package."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import pytest
from standardwebhooks import Webhook
from stratus.algorithms import package_from_folder
from stratus.local.process import LocalStackProcess

from tests.e2e.test_webhooks import Receiver, receiver  # noqa: F401  # the fixture, shared

pytestmark = pytest.mark.e2e

BEHAVIOURS = Path(__file__).resolve().parent / "packages" / "behaviours"
TRAINABLE = Path(__file__).resolve().parent / "packages" / "trainable_threshold"
WORKFLOWS = "/api/v0/workflows"
OCTET = {"content-type": "application/octet-stream"}
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def algorithm_ids(local_stack: LocalStackProcess, auth_headers: dict[str, str]) -> dict[str, str]:
    """The built-in threshold and the uploaded behaviours package, by name."""
    with httpx.Client(base_url=local_stack.api_url, timeout=60, headers=auth_headers) as api:
        listed = {a["algorithm_name"]: a["algorithm_id"] for a in api.get("/api/v0/algorithm/all").json()}
        if "e2e_behaviours" not in listed:
            deployed = api.post(
                "/api/v0/algorithms",
                content=package_from_folder(BEHAVIOURS),
                headers={"content-type": "application/zip"},
            )
            assert deployed.status_code == 201, deployed.text
            listed = {a["algorithm_name"]: a["algorithm_id"] for a in api.get("/api/v0/algorithm/all").json()}
    return listed


def _upload(api: httpx.Client, **datasets: np.ndarray) -> str:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for key, value in datasets.items():
            handle.create_dataset(key, data=value)
    uploaded = api.post("/api/v0/files", content=buffer.getvalue(), headers=OCTET)
    assert uploaded.status_code == 200, uploaded.text
    return str(uploaded.json()["file_id"])


@pytest.fixture
def input_id(api: httpx.Client) -> str:
    return _upload(api, data=np.array([[0.1, 0.6], [0.5, 0.9]], dtype=np.float32))


def _sample(api: httpx.Client, seed: int) -> str:
    image = np.random.default_rng(seed).random((8, 8))
    files = [
        {"input": [_upload(api, image=image)], "target": [_upload(api, mask=(image > 0.3).astype(np.uint8))]}
    ]
    response = api.post("/api/v0/sample", json={"files": files, "tags": []})
    assert response.status_code == 200, response.text
    return str(response.json()["sample_id"])


def _threshold(algorithm_ids: dict[str, str], step_id: str, **fields: Any) -> dict[str, Any]:
    config = {"algorithm_id": algorithm_ids["threshold"], "additional_parameters": {"threshold": 0.5}}
    return {
        "id": step_id,
        "task_type": "execution",
        "config": {**config, **fields.pop("config", {})},
        **fields,
    }


def _behave(algorithm_ids: dict[str, str], step_id: str, behaviour: str, **fields: Any) -> dict[str, Any]:
    config = {
        "algorithm_id": algorithm_ids["e2e_behaviours"],
        "additional_parameters": {"behaviour": behaviour},
        **fields.pop("config", {}),
    }
    return {"id": step_id, "task_type": "execution", "config": config, **fields}


def _after(*upstream: str, **fields: Any) -> dict[str, Any]:
    """A step fed by the first output of each upstream step."""
    return {
        "depends_on": list(upstream),
        "input_mappings": [
            {"from_step": u, "from_field": "output_dataset_ids[0]", "to_field": "input_dataset_ids"}
            for u in upstream
        ],
        **fields,
    }


def _create(api: httpx.Client, steps: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    response = api.post(WORKFLOWS, json={"name": "test", "steps": steps, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _wait(
    api: httpx.Client, poll: Callable[..., None], workflow_id: str, statuses: set[str] = FINAL
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(api.get(f"{WORKFLOWS}/{workflow_id}").json())
        return seen["status"] in statuses

    poll(reached, TIMEOUT_S)
    return seen


def _steps(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["step_id"]: s for s in workflow["steps"]}


def test_seed_dag_maps_an_output_into_the_next_step(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, poll: Callable[..., None]
) -> None:
    steps = [
        _threshold(algorithm_ids, "generate", config={"input_dataset_ids": [input_id]}),
        _threshold(algorithm_ids, "refine", **_after("generate")),
    ]

    created = _create(api, steps)
    workflow = _wait(api, poll, created["id"])

    assert workflow["status"] == "COMPLETED", workflow
    by_id = _steps(workflow)
    generated = by_id["generate"]["result"]["output_dataset_ids"]
    refine = api.get(f"/api/v0/executions/{by_id['refine']['task_id']}").json()
    assert refine["input_dataset_ids"] == generated[:1]
    assert workflow["completed_steps"] == 2 and workflow["progress"] == 1.0
    assert workflow["final_step_result"] == {"refine": by_id["refine"]["result"]}


def test_diamond_joins_two_branches(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, poll: Callable[..., None]
) -> None:
    steps = [
        _threshold(algorithm_ids, "top", config={"input_dataset_ids": [input_id]}),
        _threshold(algorithm_ids, "left", **_after("top")),
        _threshold(algorithm_ids, "right", **_after("top")),
        _threshold(algorithm_ids, "bottom", **_after("left", "right")),
    ]

    workflow = _wait(api, poll, _create(api, steps)["id"])

    assert workflow["status"] == "COMPLETED", workflow
    by_id = _steps(workflow)
    bottom = api.get(f"/api/v0/executions/{by_id['bottom']['task_id']}").json()
    assert bottom["input_dataset_ids"] == [
        by_id["left"]["result"]["output_dataset_ids"][0],
        by_id["right"]["result"]["output_dataset_ids"][0],
    ]
    assert by_id["bottom"]["started_at"] >= max(by_id["left"]["completed_at"], by_id["right"]["completed_at"])


def test_failed_middle_step_then_resume_reruns_only_what_did_not_complete(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, poll: Callable[..., None]
) -> None:
    session = f"resume-{time.monotonic_ns()}"
    steps = [
        _threshold(algorithm_ids, "first", config={"input_dataset_ids": [input_id]}),
        _behave(
            algorithm_ids,
            "middle",
            "fail_first_in_session",
            config={"session_token": session},
            **_after("first"),
        ),
        _threshold(algorithm_ids, "last", **_after("middle")),
    ]
    created = _create(api, steps)
    failed = _wait(api, poll, created["id"])
    first_task = _steps(failed)["first"]["task_id"]

    resumed = api.post(f"{WORKFLOWS}/{created['id']}/resume")
    workflow = _wait(api, poll, created["id"])

    assert failed["status"] == "FAILED" and "on purpose" in failed["error_message"], failed
    assert [s["status"] for s in failed["steps"]] == ["COMPLETED", "FAILED", "SKIPPED"]
    assert resumed.status_code == 200 and resumed.json()["status"] == "RUNNING"
    assert workflow["status"] == "COMPLETED", workflow
    by_id = _steps(workflow)
    assert by_id["first"]["task_id"] == first_task and by_id["first"]["task_ids"] == [first_task]
    assert len(by_id["middle"]["task_ids"]) == 2


def test_step_retries_within_max_retries(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, poll: Callable[..., None]
) -> None:
    session = f"retry-{time.monotonic_ns()}"
    config = {"input_dataset_ids": [input_id], "session_token": session}
    steps = [_behave(algorithm_ids, "flaky", "fail_first_in_session", config=config, max_retries=1)]

    workflow = _wait(api, poll, _create(api, steps)["id"])

    assert workflow["status"] == "COMPLETED", workflow
    flaky = _steps(workflow)["flaky"]
    assert flaky["retry_count"] == 1 and len(flaky["task_ids"]) == 2


def test_on_failure_continue_runs_independent_branches(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, poll: Callable[..., None]
) -> None:
    steps = [
        _behave(
            algorithm_ids, "broken", "fail", config={"input_dataset_ids": [input_id]}, on_failure="continue"
        ),
        _threshold(algorithm_ids, "after_broken", **_after("broken")),
        _threshold(algorithm_ids, "independent", config={"input_dataset_ids": [input_id]}),
        _threshold(algorithm_ids, "after_independent", **_after("independent")),
    ]

    workflow = _wait(api, poll, _create(api, steps)["id"])

    statuses = {s["step_id"]: s["status"] for s in workflow["steps"]}
    assert workflow["status"] == "FAILED", workflow
    assert statuses == {
        "broken": "FAILED",
        "after_broken": "SKIPPED",
        "independent": "COMPLETED",
        "after_independent": "COMPLETED",
    }
    assert any("broken" in error for error in workflow["errors"])


def test_pause_lets_running_steps_finish_then_resume_completes(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, poll: Callable[..., None]
) -> None:
    steps = [
        _behave(
            algorithm_ids,
            "slow",
            "run_until_stopped",
            config={"input_dataset_ids": [input_id]},
            timeout_seconds=2,
        ),
        _threshold(algorithm_ids, "next", config={"input_dataset_ids": [input_id]}, depends_on=["slow"]),
    ]
    steps[0]["on_failure"] = "continue"
    created = _create(api, steps)
    _wait(api, poll, created["id"], {"RUNNING"})

    paused = api.post(f"{WORKFLOWS}/{created['id']}/pause")
    settled = _wait(api, poll, created["id"], {"PAUSED"})
    poll(
        lambda: _steps(api.get(f"{WORKFLOWS}/{created['id']}").json())["slow"]["status"] != "RUNNING",
        TIMEOUT_S,
    )
    held = api.get(f"{WORKFLOWS}/{created['id']}").json()

    assert paused.status_code == 200 and settled["status"] == "PAUSED"
    assert held["status"] == "PAUSED" and _steps(held)["next"]["status"] in ("PENDING", "SKIPPED")
    assert api.post(f"{WORKFLOWS}/{created['id']}/pause").status_code == 409
    resumed = api.post(f"{WORKFLOWS}/{created['id']}/resume")
    assert resumed.status_code == 200, resumed.text


def test_cancel_stops_running_steps_and_their_jobs(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, poll: Callable[..., None]
) -> None:
    steps = [
        _behave(algorithm_ids, f"long{i}", "run_until_stopped", config={"input_dataset_ids": [input_id]})
        for i in range(2)
    ] + [_threshold(algorithm_ids, "never", **_after("long0"))]
    created = _create(api, steps)
    poll(
        lambda: all(
            s["status"] == "RUNNING" for s in api.get(f"{WORKFLOWS}/{created['id']}").json()["steps"][:2]
        ),
        TIMEOUT_S,
    )
    tasks = [s["task_id"] for s in api.get(f"{WORKFLOWS}/{created['id']}").json()["steps"][:2]]

    cancelled = api.post(f"{WORKFLOWS}/{created['id']}/cancel")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert {s["status"] for s in cancelled.json()["steps"]} == {"CANCELLED"}
    for task_id in tasks:
        poll(
            lambda task_id=task_id: api.get(f"/api/v0/executions/{task_id}").json()["status"] == "STOPPED",
            TIMEOUT_S,
        )
    assert api.post(f"{WORKFLOWS}/{created['id']}/cancel").status_code == 409
    assert api.post(f"{WORKFLOWS}/{created['id']}/resume").status_code == 409


def test_cached_rerun_starts_no_job(
    api: httpx.Client, algorithm_ids: dict[str, str], input_id: str, poll: Callable[..., None]
) -> None:
    steps = [
        _threshold(algorithm_ids, "a", config={"input_dataset_ids": [input_id]}, cache=True),
        _threshold(algorithm_ids, "b", cache=True, **_after("a")),
    ]
    first = _wait(api, poll, _create(api, steps)["id"])
    executions_before = api.get("/api/v0/executions", params={"limit": 100}).json()["items"]

    second = _wait(api, poll, _create(api, steps)["id"])

    assert first["status"] == second["status"] == "COMPLETED", (first, second)
    assert [s["cached_from"] for s in first["steps"]] == [None, None]
    assert [s["cached_from"] for s in second["steps"]] == [f"{first['id']}/a", f"{first['id']}/b"]
    assert [s["task_id"] for s in second["steps"]] == [None, None]
    assert [s["result"] for s in second["steps"]] == [s["result"] for s in first["steps"]]
    assert api.get("/api/v0/executions", params={"limit": 100}).json()["items"] == executions_before


def test_training_step_feeds_its_best_checkpoint_to_an_execution(
    api: httpx.Client, local_stack: LocalStackProcess, poll: Callable[..., None]
) -> None:
    trainable = api.post(
        "/api/v0/algorithms",
        content=package_from_folder(TRAINABLE),
        headers={"content-type": "application/zip"},
    ).json()
    samples = [_sample(api, seed) for seed in range(2)]
    image = _upload(api, image=np.array([[0.1, 0.35], [0.6, 0.9]]))
    steps = [
        {
            "id": "train",
            "task_type": "training",
            "config": {"algorithm_id": trainable["algorithm_id"], "training_data": samples, "rounds": 2},
        },
        {
            "id": "apply",
            "task_type": "execution",
            "config": {"algorithm_id": trainable["algorithm_id"], "input_dataset_ids": [image]},
            "depends_on": ["train"],
            "input_mappings": [
                {"from_step": "train", "from_field": "best_checkpoint_id", "to_field": "checkpoint_id"}
            ],
        },
    ]

    workflow = _wait(api, poll, _create(api, steps)["id"])

    assert workflow["status"] == "COMPLETED", workflow
    by_id = _steps(workflow)
    training = api.get(f"/api/v0/training/{by_id['train']['task_id']}").json()
    execution = api.get(f"/api/v0/executions/{by_id['apply']['task_id']}").json()
    assert by_id["train"]["result"]["best_checkpoint_id"] == training["best_checkpoint_id"]
    assert execution["checkpoint_id"] == training["best_checkpoint_id"]


def test_another_tenant_cannot_see_or_control_a_workflow(
    api: httpx.Client,
    local_stack: LocalStackProcess,
    algorithm_ids: dict[str, str],
    input_id: str,
    poll: Callable[..., None],
) -> None:
    created = _create(api, [_threshold(algorithm_ids, "only", config={"input_dataset_ids": [input_id]})])
    with httpx.Client(
        base_url=local_stack.api_url, timeout=60, headers=local_stack.headers("intruder")
    ) as other:
        answers = [
            other.get(f"{WORKFLOWS}/{created['id']}"),
            other.post(f"{WORKFLOWS}/{created['id']}/cancel"),
            other.delete(f"{WORKFLOWS}/{created['id']}"),
        ]
        listed = other.get(WORKFLOWS).json()["items"]

    assert [a.status_code for a in answers] == [404, 404, 404]
    assert created["id"] not in {w["id"] for w in listed}
    assert _wait(api, poll, created["id"])["status"] == "COMPLETED"


def test_workflow_sends_signed_start_progress_and_completed(
    api: httpx.Client,
    algorithm_ids: dict[str, str],
    input_id: str,
    poll: Callable[..., None],
    receiver: Receiver,  # noqa: F811  # the shared fixture
) -> None:
    steps = [
        _threshold(algorithm_ids, "generate", config={"input_dataset_ids": [input_id]}),
        _threshold(algorithm_ids, "refine", **_after("generate")),
    ]
    created = _create(api, steps, webhook_url=receiver.url)
    _wait(api, poll, created["id"])

    poll(lambda: len(receiver.types()) == 4, TIMEOUT_S)  # a queue: in any order
    secret = api.get("/api/v0/webhooks/secret").json()["secret"]
    deliveries = api.get(f"{WORKFLOWS}/{created['id']}/webhook-deliveries").json()["items"]

    assert receiver.types() == [
        "workflow.start",
        "workflow.progress",
        "workflow.progress",
        "workflow.completed",
    ]
    for body, headers in receiver.requests:
        assert Webhook(secret).verify(body, headers)["data"]["id"] == created["id"]
    assert len(deliveries) == 4
