"""Campaigns through the local stack, as a client sees them: the real API, moto's ASL interpreter running
statemachines/campaign.asl.json with the campaigns function's tasks in-process and each trial a child run
of the execution state machine, whose Batch job is a worker process running the built-in `branin` (or
the uploaded behaviours package). Budgets are small: each trial is a real execution."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import h5py
import httpx
import numpy as np
import pytest

from tests.e2e.test_workflows import algorithm_ids  # noqa: F401  # the fixture, shared

pytestmark = pytest.mark.e2e

CAMPAIGNS = "/api/v0/campaigns"
OCTET = {"content-type": "application/octet-stream"}
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
TIMEOUT_S = 180
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BRANIN = [{"name": "branin", "direction": "minimize"}]


@pytest.fixture
def input_id(api: httpx.Client) -> str:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=np.zeros((2, 2), dtype=np.float32))
    uploaded = api.post("/api/v0/files", content=buffer.getvalue(), headers=OCTET)
    assert uploaded.status_code == 200, uploaded.text
    return str(uploaded.json()["file_id"])


@pytest.fixture
def start(api: httpx.Client, input_id: str) -> Callable[..., str]:
    """``start(**fields)``: a campaign on branin with ``fields``; returns its id."""

    def make(**fields: Any) -> str:
        body = {
            "algorithm_name": "branin",
            "algorithm_major_version": 1,
            "input_dataset_ids": [input_id],
            "objectives": BRANIN,
            **fields,
        }
        response = api.post(CAMPAIGNS, json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["campaign_id"])

    return make


def _wait(
    api: httpx.Client,
    poll: Callable[..., None],
    campaign_id: str,
    reached: Callable[[dict[str, Any]], bool] = lambda c: c["status"] in FINAL,
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def check() -> bool:
        seen.update(api.get(f"{CAMPAIGNS}/{campaign_id}").json())
        return reached(seen)

    poll(check, TIMEOUT_S)
    return seen


def _points(campaign: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(tuple(t["parameters"][n] for n in sorted(t["parameters"])) for t in campaign["trials"])


def test_grid_sweep_runs_every_point_of_the_grid(
    api: httpx.Client, poll: Callable[..., None], start: Callable[..., str]
) -> None:
    grid = {"x": {"values": [-3.0, 3.0]}, "y": {"values": [2.0, 12.0]}}

    campaign = _wait(api, poll, start(kind="grid", search_space=grid, budget=10, batch_size=2))

    assert campaign["status"] == "COMPLETED", campaign
    assert _points(campaign) == [(-3.0, 2.0), (-3.0, 12.0), (3.0, 2.0), (3.0, 12.0)]
    assert all(t["status"] == "COMPLETED" and "branin" in t["kpis"] for t in campaign["trials"])
    lowest = min(campaign["trials"], key=lambda t: t["kpis"]["branin"])
    assert campaign["best"]["trial"] == lowest["number"]


def test_table_campaign_runs_its_rows_in_order(
    api: httpx.Client, poll: Callable[..., None], start: Callable[..., str]
) -> None:
    rows = "x,y\n3.14159,2.275\n-3.14159,12.275\n"

    campaign = _wait(api, poll, start(kind="table", rows_csv=rows, budget=10))

    assert campaign["status"] == "COMPLETED", campaign
    assert [t["parameters"] for t in campaign["trials"]] == [
        {"x": 3.14159, "y": 2.275},
        {"x": -3.14159, "y": 12.275},
    ]
    assert all(abs(t["kpis"]["branin"] - 0.397887) < 1e-3 for t in campaign["trials"])


def test_bayesian_campaign_completes_with_best_plot_and_history(
    api: httpx.Client, poll: Callable[..., None], start: Callable[..., str]
) -> None:
    space = {"x": {"low": -5, "high": 10}, "y": {"low": 0, "high": 15}}

    campaign_id = start(kind="bayesian", search_space=space, budget=6, batch_size=3, seed=3)
    campaign = _wait(api, poll, campaign_id)

    assert campaign["status"] == "COMPLETED", campaign
    assert campaign["counts"]["completed"] == 6
    values = {t["number"]: t["kpis"]["branin"] for t in campaign["trials"]}
    best = campaign["best"]
    assert values[best["trial"]] == min(values.values()) == best["kpis"]["branin"]
    plot = api.get(f"{CAMPAIGNS}/{campaign_id}/plot")
    assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(PNG_MAGIC)
    history = list(csv.DictReader(io.StringIO(api.get(f"{CAMPAIGNS}/{campaign_id}/history.csv").text)))
    assert sorted(int(r["trial"]) for r in history) == list(range(1, 7))
    assert all(float(r["branin"]) == values[int(r["trial"])] for r in history)


def test_paused_campaign_resumes_and_completes(
    api: httpx.Client, poll: Callable[..., None], start: Callable[..., str]
) -> None:
    grid = {"x": {"values": [0.0, 1.0, 2.0]}, "y": {"values": [1.0]}}
    campaign_id = start(kind="grid", search_space=grid, budget=3, parameters={"delay_s": 1.0})
    first = _wait(api, poll, campaign_id, lambda c: bool(c["trials"] and c["trials"][0]["execution_id"]))
    execution_url = f"/api/v0/executions/{first['trials'][0]['execution_id']}"

    paused = api.post(f"{CAMPAIGNS}/{campaign_id}/pause")
    # The running trial's execution goes on while paused; the resumed run collects it.
    poll(lambda: api.get(execution_url).json()["status"] == "COMPLETED", TIMEOUT_S)
    held = api.get(f"{CAMPAIGNS}/{campaign_id}").json()
    resumed = api.post(f"{CAMPAIGNS}/{campaign_id}/resume")
    campaign = _wait(api, poll, campaign_id)

    assert paused.status_code == 200 and paused.json()["status"] == "PAUSED"
    assert held["status"] == "PAUSED" and held["counts"]["created"] < 3
    assert resumed.status_code == 200, resumed.text
    assert campaign["status"] == "COMPLETED" and campaign["counts"]["completed"] == 3


def test_cancel_stops_the_running_trials_executions(
    api: httpx.Client, poll: Callable[..., None], start: Callable[..., str]
) -> None:
    grid = {"x": {"values": [0.0, 1.0]}, "y": {"values": [1.0]}}
    campaign_id = start(kind="grid", search_space=grid, budget=2, batch_size=2, parameters={"delay_s": 60.0})
    running = _wait(api, poll, campaign_id, lambda c: len([t for t in c["trials"] if t["execution_id"]]) == 2)

    cancelled = api.post(f"{CAMPAIGNS}/{campaign_id}/cancel")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert [t["status"] for t in cancelled.json()["trials"]] == ["STOPPED", "STOPPED"]
    for trial in running["trials"]:
        execution = api.get(f"/api/v0/executions/{trial['execution_id']}").json()
        assert execution["status"] == "STOPPED"


def test_failing_trials_are_recorded_and_the_campaign_goes_on(
    api: httpx.Client,
    poll: Callable[..., None],
    algorithm_ids: dict[str, str],  # noqa: F811  # the shared fixture
    input_id: str,
) -> None:
    body = {
        "algorithm_id": algorithm_ids["e2e_behaviours"],
        "input_dataset_ids": [input_id],
        "kind": "table",
        "rows": [{"behaviour": "fail"}, {"behaviour": "echo"}],
        "objectives": [{"name": "score", "direction": "maximize"}],
        "budget": 2,
        "max_failures": None,
    }
    response = api.post(CAMPAIGNS, json=body)
    assert response.status_code == 201, response.text

    campaign = _wait(api, poll, response.json()["campaign_id"])

    # The first trial's failure is recorded and the second runs; the second completes without the
    # objective, which every trial would: the campaign stops there, saying why.
    assert campaign["status"] == "FAILED", campaign
    first, second = campaign["trials"]
    assert first["status"] == "FAILED" and first["error"] and "KPI" not in first["error"]
    assert second["status"] == "FAILED" and second["error"] == "KPI 'score' was not reported"
    assert "every trial would end the same way" in campaign["errors"][-1]
    assert campaign["best"] is None and campaign["counts"]["failed"] == 2


def test_a_workflow_campaign_runs_each_trial_as_a_workflow(
    api: httpx.Client,
    poll: Callable[..., None],
    input_id: str,
    algorithm_ids: dict[str, str],  # noqa: F811
) -> None:
    # Two steps: threshold the input, then score branin on threshold's output; the campaign searches a
    # parameter of each step and minimises the second step's KPI.
    steps = [
        {
            "id": "prep",
            "task_type": "execution",
            "config": {"algorithm_id": algorithm_ids["threshold"], "input_dataset_ids": [input_id]},
        },
        {
            "id": "score",
            "task_type": "execution",
            "config": {"algorithm_id": algorithm_ids["branin"], "additional_parameters": {"y": 2.275}},
            "depends_on": ["prep"],
            "input_mappings": [
                {"from_step": "prep", "from_field": "output_dataset_ids", "to_field": "input_dataset_ids"}
            ],
        },
    ]
    body = {
        "workflow": {"name": "prep-and-score", "steps": steps},
        "kind": "grid",
        "search_space": {"prep.threshold": {"values": [0.25]}, "score.x": {"values": [0.0, 3.14159]}},
        "objectives": [{"name": "score.branin"}],
        "budget": 2,
        "batch_size": 2,
    }
    created = api.post(CAMPAIGNS, json=body)
    assert created.status_code == 201, created.text

    campaign = _wait(api, poll, created.json()["campaign_id"])

    assert campaign["status"] == "COMPLETED", campaign["errors"]
    trials = campaign["trials"]
    assert [t["status"] for t in trials] == ["COMPLETED", "COMPLETED"]
    assert all(t["execution_id"] is None and t["workflow_id"] for t in trials)
    best = campaign["best"]
    assert best["parameters"] == {"prep.threshold": 0.25, "score.x": 3.14159}
    assert abs(best["kpis"]["score.branin"] - 0.397887) < 1e-3
    for trial in trials:
        answer = api.get(f"/api/v0/workflows/{trial['workflow_id']}")
        assert answer.status_code == 200, answer.text
        workflow = answer.json()
        assert workflow["status"] == "COMPLETED" and workflow["name"] == f"prep-and-score #{trial['number']}"
        config = {s["step_id"]: s["config"] for s in workflow["steps"]}
        assert config["prep"]["additional_parameters"] == {"threshold": 0.25}
        assert config["score"]["additional_parameters"] == {"y": 2.275, "x": trial["parameters"]["score.x"]}
