"""Compox's training workflow through the local stack, as a client sees it: upload → sample → train (a
chain of rounds on statemachines/training.asl.json, each a Batch worker process) → poll → checkpoints →
execute with a checkpoint → export the trained package."""

from __future__ import annotations

import io
import time
import zipfile
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
OCTET = {"content-type": "application/octet-stream"}
FINAL = {"COMPLETED", "FAILED", "STOPPED"}
TIMEOUT_S = 120
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def trainable(local_stack: LocalStackProcess, auth_headers: dict[str, str]) -> dict[str, Any]:
    with httpx.Client(base_url=local_stack.api_url, timeout=60, headers=auth_headers) as api:
        deployed = api.post(
            "/api/v0/algorithms",
            content=package_from_folder(TRAINABLE),
            headers={"content-type": "application/zip"},
        )
        assert deployed.status_code == 201, deployed.text
        result: dict[str, Any] = deployed.json()
        return result


def _upload(api: httpx.Client, **datasets: np.ndarray) -> str:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for key, value in datasets.items():
            handle.create_dataset(key, data=value)
    response = api.post("/api/v0/files", content=buffer.getvalue(), headers=OCTET)
    assert response.status_code == 200, response.text
    file_id: str = response.json()["file_id"]
    return file_id


def _sample(api: httpx.Client, seed: int, tags: list[str]) -> str:
    image = np.random.default_rng(seed).random((8, 8))
    mask = (image > 0.3).astype(np.uint8)
    body = {
        "files": [{"input": [_upload(api, image=image)], "target": [_upload(api, mask=mask)]}],
        "tags": tags,
    }
    response = api.post("/api/v0/sample", json=body)
    assert response.status_code == 200, response.text
    sample_id: str = response.json()["sample_id"]
    return sample_id


def _wait(api: httpx.Client, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        record: dict[str, Any] = api.get(path).json()
        if record["status"] in FINAL or time.monotonic() > deadline:
            return record
        time.sleep(0.1)


def test_training_workflow_round_trip(api: httpx.Client, trainable: dict[str, Any]) -> None:
    samples = [_sample(api, seed, ["modality:ct", "e2e"]) for seed in range(3)]
    body = {
        "algorithm_id": trainable["algorithm_id"],
        "training_data": samples,
        "tags": ["experiment:42"],
        "additional_parameters": {"num_epochs": 2},
        "rounds": 3,
        "selection": {"metric": "accuracy", "mode": "max"},
    }

    started = api.post("/api/v0/train-algorithm", json=body)
    assert started.status_code == 200, started.text
    training = _wait(api, f"/api/v0/training/{started.json()['training_id']}")

    assert training["status"] == "COMPLETED", training["log"]
    assert training["progress"] == 1.0 and len(training["output_checkpoint_ids"]) == 3
    assert [r["status"] for r in training["rounds"]] == ["COMPLETED"] * 3
    assert training["additional_parameters"] == {"num_epochs": 2, "learning_rate": 0.5}
    best = api.get(f"/api/v0/checkpoint/{training['best_checkpoint_id']}").json()
    assert best["tags"] == ["experiment:42"] and best["training_id"] == training["training_id"]
    assert best["properties"]["accuracy"] == max(
        api.get(f"/api/v0/checkpoint/{c}").json()["properties"]["accuracy"]
        for c in training["output_checkpoint_ids"]
    )
    listed = api.get("/api/v0/checkpoint/all", params={"positive_tags": "experiment:42"}).json()
    assert {c["checkpoint_id"] for c in listed} >= set(training["output_checkpoint_ids"])
    logs = api.get(
        f"/api/v0/training/{training['training_id']}/logs", params={"from_line": 1, "limit": 3}
    ).json()
    assert [line["line"] for line in logs["lines"]] == [1, 2, 3] and logs["next_line"] == 4

    image = np.array([[0.1, 0.35], [0.6, 0.9]])
    executed = api.post(
        "/api/v0/execute-algorithm",
        json={
            "algorithm_id": trainable["algorithm_id"],
            "input_dataset_ids": [_upload(api, image=image)],
            "checkpoint_id": best["checkpoint_id"],
        },
    )
    assert executed.status_code == 200, executed.text
    execution = _wait(api, f"/api/v0/executions/{executed.json()['execution_id']}")
    assert execution["status"] == "COMPLETED", execution["log"]

    exported = api.get(
        f"/api/v0/algorithm/{trainable['algorithm_name']}/{trainable['algorithm_major_version']}/export",
        params={"checkpoint_id": best["checkpoint_id"]},
    )
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.content)) as package:
        threshold = float(package.read("files/threshold.txt"))
    assert threshold == pytest.approx(best["properties"]["threshold"])


def test_sample_files_are_pinned_while_the_sample_exists(api: httpx.Client) -> None:
    sample_id = _sample(api, 7, ["pinned"])
    file_id = api.get(f"/api/v0/sample/{sample_id}").json()["files"][0]["input"][0]

    refused = api.delete(f"/api/v0/files/{file_id}")
    assert refused.status_code == 409 and sample_id in refused.json()["detail"]
    assert api.delete(f"/api/v0/sample/{sample_id}").status_code == 200
    assert api.delete(f"/api/v0/files/{file_id}").status_code == 200


def test_training_requests_that_would_fail_are_refused_with_nothing_stored(
    api: httpx.Client, trainable: dict[str, Any]
) -> None:
    builtin = {a["algorithm_name"]: a["algorithm_id"] for a in api.get("/api/v0/algorithm/all").json()}
    sample_id = _sample(api, 3, [])
    before = api.get("/api/v0/training", params={"limit": 100}).json()["items"]
    cases = [
        ({"algorithm_id": trainable["algorithm_id"], "training_data": [UNKNOWN_ID]}, 404),
        ({"algorithm_id": builtin["threshold"], "training_data": [sample_id]}, 422),
        (
            {
                "algorithm_id": trainable["algorithm_id"],
                "training_data": [sample_id],
                "additional_parameters": {"num_epochs": 0},
            },
            422,
        ),
        ({"algorithm_id": trainable["algorithm_id"], "training_data": [sample_id], "rounds": 2}, 422),
    ]

    for body, status in cases:
        response = api.post("/api/v0/train-algorithm", json=body)
        assert response.status_code == status, (body, response.text)

    assert api.get("/api/v0/training", params={"limit": 100}).json()["items"] == before
