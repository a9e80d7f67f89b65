"""Tenant isolation, walked over every route of the OpenAPI document with two tenants' tokens (ID tokens
of the local user pool) and with none: tenant `alpha` makes one of everything; `beta` gets 404 for each
of alpha's ids on every route that takes one, never sees them in a list, and changes nothing."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import pytest
from stratus.algorithms import package_from_folder
from stratus.local.process import LocalStackProcess

pytestmark = pytest.mark.e2e

TRAINABLE = Path(__file__).resolve().parent / "packages" / "trainable_threshold"
FINAL = {"COMPLETED", "FAILED", "STOPPED", "CANCELLED"}
TIMEOUT_S = 120
PARAMETER = re.compile(r"\{([^}]+)\}")


def _client(stack: LocalStackProcess, tenant: str | None) -> httpx.Client:
    headers = stack.headers(tenant) if tenant else {}
    return httpx.Client(base_url=stack.api_url, timeout=60, headers=headers)


def _upload(api: httpx.Client, **datasets: np.ndarray) -> str:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for key, value in datasets.items():
            handle.create_dataset(key, data=value)
    response = api.post(
        "/api/v0/files", content=buffer.getvalue(), headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["file_id"])


def _wait(api: httpx.Client, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        record: dict[str, Any] = api.get(path).json()
        if record["status"] in FINAL or time.monotonic() > deadline:
            return record
        time.sleep(0.1)


@pytest.fixture(scope="module")
def alpha(local_stack: LocalStackProcess) -> Iterator[dict[str, str]]:
    """One of everything, owned by tenant alpha: its ids by path parameter name."""
    with _client(local_stack, "alpha") as api:
        algorithm = api.post(
            "/api/v0/algorithms",
            content=package_from_folder(TRAINABLE),
            headers={"content-type": "application/zip"},
        ).json()
        rng = np.random.default_rng(0)
        image = rng.random((8, 8))
        file_id = _upload(api, image=image)
        target = _upload(api, mask=(image > 0.3).astype(np.uint8))
        sample = api.post("/api/v0/sample", json={"files": [{"input": [file_id], "target": [target]}]}).json()
        started = api.post(
            "/api/v0/train-algorithm",
            json={"algorithm_id": algorithm["algorithm_id"], "training_data": [sample["sample_id"]]},
        )
        assert started.status_code == 200, started.text
        training = _wait(api, f"/api/v0/training/{started.json()['training_id']}")
        assert training["status"] == "COMPLETED", training["log"]
        executed = api.post(
            "/api/v0/execute-algorithm",
            json={
                "algorithm_id": algorithm["algorithm_id"],
                "input_dataset_ids": [_upload(api, image=image)],
            },
        )
        execution = _wait(api, f"/api/v0/executions/{executed.json()['execution_id']}")
        token = api.post("/api/v0/tokens", json={"name": "alpha-ci"}).json()
        step = {
            "id": "only",
            "task_type": "execution",
            "config": {"algorithm_id": algorithm["algorithm_id"], "input_dataset_ids": [file_id]},
        }
        created = api.post("/api/v0/workflows", json={"name": "alpha's", "steps": [step]})
        assert created.status_code == 201, created.text
        workflow = _wait(api, f"/api/v0/workflows/{created.json()['id']}")
        assert workflow["status"] == "COMPLETED", workflow
        sweep = {
            "algorithm_name": "branin",
            "algorithm_major_version": 1,
            "input_dataset_ids": [file_id],
            "kind": "grid",
            "search_space": {"x": {"values": [3.0]}, "y": {"values": [2.0]}},
            "objectives": [{"name": "branin"}],
            "budget": 1,
        }
        started_campaign = api.post("/api/v0/campaigns", json=sweep)
        assert started_campaign.status_code == 201, started_campaign.text
        campaign = _wait(api, f"/api/v0/campaigns/{started_campaign.json()['campaign_id']}")
        assert campaign["status"] == "COMPLETED", campaign
        workspace = api.post("/api/v0/workspaces", json={"display_name": "alpha's"}).json()
        scenario = api.post(
            f"/api/v0/workspaces/{workspace['id']}/scenarios",
            json={"tag": "alpha's", "dataset_ids": [file_id], "algorithm_id": algorithm["algorithm_id"]},
        )
        assert scenario.status_code == 201, scenario.text
        yield {
            "file_id": file_id,
            "sample_id": sample["sample_id"],
            "training_id": training["training_id"],
            "checkpoint_id": training["best_checkpoint_id"],
            "execution_id": execution["execution_id"],
            "token_id": token["token_id"],
            "algorithm_id": algorithm["algorithm_id"],
            "name": algorithm["algorithm_name"],
            "major": algorithm["algorithm_major_version"],
            "workflow_id": workflow["id"],
            "campaign_id": campaign["id"],
            "workspace_id": workspace["id"],
            "scenario_id": scenario.json()["id"],
            "step_id": "only",
            "queue": "cpu",
            "job_id": execution["execution_id"],
            # A well-formed webhook-id: the delivery routes look up their job (or workflow) first.
            "delivery_id": "msg_" + "0" * 32,
        }


def _routes(api: httpx.Client) -> list[tuple[str, str]]:
    document = api.get("/openapi.json").json()
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item]


def _body(path: str, ids: dict[str, str]) -> dict[str, Any] | None:
    """A body naming alpha's things, for the routes that take them in the body."""
    bodies: dict[str, dict[str, Any]] = {
        "/api/v0/execute-algorithm": {
            "algorithm_id": ids["algorithm_id"],
            "input_dataset_ids": [ids["file_id"]],
        },
        "/api/v0/train-algorithm": {"algorithm_id": ids["algorithm_id"], "training_data": [ids["sample_id"]]},
        "/api/v0/sample": {"files": [{"input": [ids["file_id"]]}]},
        "/api/v0/training/{training_id}/extend": {"training_data": [ids["sample_id"]]},
        "/api/v0/files/uploads/{file_id}/complete": {
            "parts": [{"part_number": 1, "etag": '"' + "0" * 32 + '"'}]
        },
        "/api/v0/workflows": {
            "name": "beta's",
            "steps": [
                {
                    "id": "borrowed",
                    "task_type": "execution",
                    "config": {"algorithm_id": ids["algorithm_id"], "input_dataset_ids": [ids["file_id"]]},
                }
            ],
        },
        "/api/v0/campaigns": {
            "algorithm_id": ids["algorithm_id"],
            "input_dataset_ids": [ids["file_id"]],
            "kind": "grid",
            "search_space": {"threshold": {"values": [0.5]}},
            "objectives": [{"name": "loss"}],
            "budget": 1,
        },
        "/api/v0/workspaces/{workspace_id}/scenarios": {
            "tag": "beta's",
            "dataset_ids": [ids["file_id"]],
            "algorithm_id": ids["algorithm_id"],
        },
        "/api/v0/workspaces/{workspace_id}/copy": {"display_name": "beta's copy"},
        # PATCH bodies (a GET of the same path ignores its body).
        "/api/v0/workspaces/{workspace_id}": {"display_name": "renamed"},
        "/api/v0/executions/{execution_id}": {"priority": 1},
        "/api/v0/training/{training_id}": {"priority": 1},
        "/api/v0/workflows/{workflow_id}": {"name": "renamed"},
        "/api/v0/monitoring/queues/{queue}/jobs/{job_id}/move": {"direction": "up"},
    }
    return bodies.get(path)


def test_every_route_refuses_callers_without_credential(local_stack: LocalStackProcess) -> None:
    with _client(local_stack, None) as anonymous:
        routes = _routes(anonymous)
        answers = {
            (method, path): anonymous.request(method, PARAMETER.sub("x", path)).status_code
            for method, path in routes
            if path != "/health"
        }

    assert routes
    assert {route: status for route, status in answers.items() if status != 401} == {}


def test_another_tenant_gets_not_found_for_every_id(
    local_stack: LocalStackProcess, alpha: dict[str, str]
) -> None:
    with _client(local_stack, "beta") as beta:
        leaks = {}
        for method, path in _routes(beta):
            names = PARAMETER.findall(path)
            body = _body(path, alpha)
            if not names and (body is None or method == "GET"):
                continue  # a list (the next test checks lists), or a route that names nothing of alpha's
            url = PARAMETER.sub(lambda m: alpha[m.group(1)], path)
            status = beta.request(method, url, json=body).status_code
            if status != 404:
                leaks[(method, path)] = status

    assert leaks == {}


def test_another_tenants_lists_never_show_its_ids(
    local_stack: LocalStackProcess, alpha: dict[str, str]
) -> None:
    secret_ids = {
        alpha[k]
        for k in (
            "file_id",
            "sample_id",
            "training_id",
            "checkpoint_id",
            "execution_id",
            "token_id",
            "algorithm_id",
            "workflow_id",
            "campaign_id",
            "workspace_id",
            "scenario_id",
        )
    }
    with _client(local_stack, "beta") as beta:
        listed = {
            path: beta.get(path).text
            for method, path in _routes(beta)
            if method == "GET" and not PARAMETER.search(path) and path != "/openapi.json"
        }

    assert listed
    assert {
        path: [i for i in secret_ids if i in text]
        for path, text in listed.items()
        if any(i in text for i in secret_ids)
    } == {}


def test_owner_still_has_everything_after_the_walk(
    local_stack: LocalStackProcess, alpha: dict[str, str]
) -> None:
    with _client(local_stack, "alpha") as api:
        answers = {
            "file": api.get(f"/api/v0/files/{alpha['file_id']}/status").status_code,
            "sample": api.get(f"/api/v0/sample/{alpha['sample_id']}").status_code,
            "training": api.get(f"/api/v0/training/{alpha['training_id']}").status_code,
            "checkpoint": api.get(f"/api/v0/checkpoint/{alpha['checkpoint_id']}").status_code,
            "execution": api.get(f"/api/v0/executions/{alpha['execution_id']}").status_code,
            "workflow": api.get(f"/api/v0/workflows/{alpha['workflow_id']}").status_code,
            "campaign": api.get(f"/api/v0/campaigns/{alpha['campaign_id']}").status_code,
            "scenario": api.get(
                f"/api/v0/workspaces/{alpha['workspace_id']}/scenarios/{alpha['scenario_id']}"
            ).status_code,
            "algorithm": api.get(f"/api/v0/algorithm/{alpha['name']}/{alpha['major']}").status_code,
        }
        tokens = {t["token_id"] for t in api.get("/api/v0/tokens").json()}

    assert set(answers.values()) == {200}, answers
    assert alpha["token_id"] in tokens
