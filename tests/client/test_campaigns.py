"""Campaigns through the SDK and the `stratus` command: requests as users write them (the algorithm by
name, inputs as local files) against the shared local stack, on the built-in `branin` with tiny grids
(each trial is a real execution)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import TYPE_CHECKING

import numpy as np
import pytest
from stratus_client import AsyncClient, Client, InvalidInputError, JobFailedError, NotFoundError
from stratus_client.campaigns import (
    apply_campaign_needs,
    campaign_body,
    campaign_needs,
    check_workflow_parameter_names,
    step_algorithms,
)
from stratus_client.models import Algorithm
from stratus_client.references import apply_workflow_needs

from tests.client.helpers import write_dataset
from tests.client.test_cli import stratus

if TYPE_CHECKING:
    from pathlib import Path

    from stratus.local.process import LocalStackProcess

TIMEOUT_S = 180
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BRANIN = [{"name": "branin", "direction": "minimize"}]
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def _write_input(folder: Path) -> Path:
    # branin does not read its input; a campaign still runs every trial on real, READY files.
    path = folder / "volume.h5"
    write_dataset(path, np.zeros((2, 2), dtype=np.float32))
    return path


def test_campaign_needs_resolves_names_and_local_files(tmp_path: Path) -> None:
    path = _write_input(tmp_path)
    body = campaign_body({"kind": "grid"}, "branin:1", ["volume.h5", MISSING_ID], {"budget": 2})

    needs = campaign_needs(body, tmp_path)
    sent = apply_campaign_needs(body, "the-id", {"volume.h5": "uploaded-id"})

    assert (needs.algorithm, needs.paths) == ("branin:1", {"volume.h5": path})
    assert sent == {
        "kind": "grid",
        "budget": 2,
        "algorithm_id": "the-id",
        "input_dataset_ids": ["uploaded-id", MISSING_ID],
    }


def test_campaign_needs_resolves_a_workflow_templates_steps(tmp_path: Path) -> None:
    path = _write_input(tmp_path)
    steps = [{"id": "prep", "algorithm": "threshold", "config": {"input_dataset_ids": ["volume.h5"]}}]
    body = campaign_body({"workflow": {"name": "w", "steps": steps}}, None, None, {})

    needs = campaign_needs(body, tmp_path)
    assert needs.workflow is not None
    apply_workflow_needs(body["workflow"], {"threshold": "the-id"}, {"volume.h5": "uploaded-id"})

    assert (needs.algorithm, needs.workflow.algorithms, needs.workflow.paths) == (
        None,
        {"threshold"},
        {"volume.h5": path},
    )
    assert body["workflow"]["steps"] == [
        {
            "id": "prep",
            "task_type": "execution",
            "config": {"algorithm_id": "the-id", "input_dataset_ids": ["uploaded-id"]},
        }
    ]
    assert steps[0]["algorithm"] == "threshold"  # the caller's body is left as it was


def test_a_workflow_templates_parameters_are_checked_against_each_steps_algorithm() -> None:
    steps = [
        {"id": "prep", "algorithm": "threshold"},
        {"id": "score", "config": {"algorithm_name": "branin", "algorithm_major_version": 1}},
    ]
    schema = {"additionalProperties": False, "properties": {"x": {"type": "number"}}}
    branin = Algorithm(algorithm_id=MISSING_ID, algorithm_name="branin", parameter_schema=schema)
    threshold = Algorithm(algorithm_id=MISSING_ID, algorithm_name="threshold", parameter_schema=schema)
    algorithms = {"threshold": threshold, "branin:1": branin}
    references = step_algorithms({"steps": steps})

    check_workflow_parameter_names(references, algorithms, {"search_space": {"score.x": {}}})
    with pytest.raises(InvalidInputError) as refused:
        check_workflow_parameter_names(references, algorithms, {"search_space": {"score.xx": {}}})

    assert references == {"prep": "threshold", "score": "branin:1"}
    assert refused.value.parameter == "score.xx" and "'prep.x'" in str(refused.value)
    # A training step's parameters are not in the registry's listing: the API alone checks them.
    assert step_algorithms({"steps": [*steps, {"id": "fit", "task_type": "training"}]}) == {}


def test_campaign_needs_refuses_an_algorithm_named_twice() -> None:
    body = {"algorithm": "branin", "algorithm_name": "branin", "algorithm_major_version": 1}

    with pytest.raises(InvalidInputError) as refused:
        campaign_needs(body, None)

    assert refused.value.parameter == "algorithm"


@pytest.mark.e2e
def test_sdk_grid_campaign_on_a_local_file_completes_with_plot_and_history(
    client: Client, tmp_path: Path
) -> None:
    grid = {"x": {"values": [-3.0, 3.0]}, "y": {"values": [2.0, 12.0]}}

    created = client.create_campaign(
        algorithm="branin",
        inputs=[_write_input(tmp_path)],
        kind="grid",
        search_space=grid,
        objectives=BRANIN,
        budget=4,
        batch_size=4,
        name="sdk grid",
    )
    campaign = client.wait_campaign(created.campaign_id, timeout=TIMEOUT_S)
    plot = client.campaign_plot(created.campaign_id)
    history = list(csv.DictReader(io.StringIO(client.campaign_history(created.campaign_id))))

    assert (created.status, created.planned_trials) == ("RUNNING", 4)
    assert (campaign.status, campaign.name, campaign.counts.completed) == ("COMPLETED", "sdk grid", 4)
    points = sorted((t.parameters["x"], t.parameters["y"]) for t in campaign.trials)
    assert points == [(-3.0, 2.0), (-3.0, 12.0), (3.0, 2.0), (3.0, 12.0)]
    values = {t.number: t.kpis["branin"] for t in campaign.trials}
    assert campaign.best is not None and values[campaign.best.trial or 0] == min(values.values())
    assert plot.startswith(PNG_MAGIC)
    assert {int(row["trial"]): float(row["branin"]) for row in history} == values
    assert client.campaign_trials(created.campaign_id) == campaign.trials
    assert created.campaign_id in [c.id for c in client.list_campaigns(status="COMPLETED").items]


@pytest.mark.e2e
def test_sdk_wait_raises_for_a_cancelled_campaign_which_then_deletes(client: Client, tmp_path: Path) -> None:
    grid = {"x": {"values": [1.0]}, "y": {"values": [1.0]}}
    created = client.create_campaign(
        {"kind": "grid", "search_space": grid, "objectives": BRANIN, "budget": 1},
        algorithm="branin",
        inputs=[_write_input(tmp_path)],
        parameters={"delay_s": 30.0},
    )

    cancelled = client.cancel_campaign(created.campaign_id)
    with pytest.raises(JobFailedError) as failed:
        client.wait_campaign(created.campaign_id, timeout=TIMEOUT_S)
    client.delete_campaign(created.campaign_id)

    assert cancelled.status == "CANCELLED"
    assert failed.value.record.status == "CANCELLED" and "CANCELLED" in failed.value.detail
    with pytest.raises(NotFoundError):
        client.get_campaign(created.campaign_id)


@pytest.mark.e2e
def test_async_client_reads_optimizers_and_misses_unknown_campaigns(
    local_stack: LocalStackProcess, token: str
) -> None:
    async def scenario() -> dict[str, object]:
        async with AsyncClient(local_stack.api_url, token) as client:
            with pytest.raises(NotFoundError):
                await client.get_campaign(MISSING_ID)
            return await client.campaign_optimizers()

    found = asyncio.run(scenario())

    assert {"tpe", "gp"} <= set(found["optimizers"])  # type: ignore[arg-type]


@pytest.mark.e2e
def test_cli_creates_waits_shows_plots_and_exports_history(cli_env: dict[str, str], tmp_path: Path) -> None:
    _write_input(tmp_path)
    body = {
        "algorithm": "branin",
        "input_dataset_ids": ["volume.h5"],
        "kind": "grid",
        "search_space": {"x": {"values": [3.0, -3.0]}, "y": {"values": [2.0]}},
        "objectives": BRANIN,
        "budget": 2,
        "batch_size": 2,
    }
    (tmp_path / "campaign.json").write_text(json.dumps(body))

    created = stratus(cli_env, tmp_path, "campaigns", "create", "campaign.json", "--wait", "--json")
    campaign_id = json.loads(created.stdout)["id"] if created.returncode == 0 else ""
    shown = stratus(cli_env, tmp_path, "campaigns", "show", campaign_id)
    plotted = stratus(cli_env, tmp_path, "campaigns", "plot", campaign_id, "--out", "plot.png")
    history = stratus(cli_env, tmp_path, "campaigns", "history", campaign_id)

    assert created.returncode == 0, created.stderr
    campaign = json.loads(created.stdout)
    assert campaign["status"] == "COMPLETED" and campaign["counts"]["completed"] == 2
    assert shown.returncode == 0 and "trials" in shown.stdout and "best" in shown.stdout, shown.stderr
    assert plotted.returncode == 0 and (tmp_path / "plot.png").read_bytes().startswith(PNG_MAGIC)
    rows = list(csv.DictReader(io.StringIO(history.stdout)))
    assert sorted(int(row["trial"]) for row in rows) == [1, 2]


@pytest.mark.e2e
def test_cli_runs_a_configuration_table_from_a_csv_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    _write_input(tmp_path)
    body = {
        "algorithm": "branin",
        "input_dataset_ids": ["volume.h5"],
        "kind": "table",
        "objectives": BRANIN,
        "budget": 2,
        "batch_size": 2,
    }
    (tmp_path / "table.json").write_text(json.dumps(body))
    (tmp_path / "rows.csv").write_text("x,y\n3.0,2.0\n-3.0,12.0\n")

    created = stratus(
        cli_env, tmp_path, "campaigns", "create", "table.json", "--rows", "rows.csv", "--wait", "--json"
    )

    assert created.returncode == 0, created.stderr
    trials = json.loads(created.stdout)["trials"]
    assert [t["parameters"] for t in trials] == [{"x": 3.0, "y": 2.0}, {"x": -3.0, "y": 12.0}]
    assert all(t["status"] == "COMPLETED" for t in trials)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("search_space", "said"),
    [
        # Refused by the client from the algorithm's schema: nothing uploaded, nothing sent.
        ({"speed": {"values": [1, 2]}}, "unknown parameter 'speed'"),
        # Refused by the API: a grid value outside the parameter's range (branin's x is in [-5, 10]).
        ({"x": {"values": [0.0, 50.0]}}, "status 422"),
    ],
)
def test_cli_refuses_a_bad_body_with_one_line_and_its_code(
    cli_env: dict[str, str], tmp_path: Path, search_space: dict[str, object], said: str
) -> None:
    body = {
        "algorithm": "branin",
        "input_dataset_ids": ["volume.h5"],
        "kind": "grid",
        "search_space": search_space,
        "objectives": BRANIN,
        "budget": 2,
    }
    _write_input(tmp_path)
    (tmp_path / "campaign.json").write_text(json.dumps(body))

    refused = stratus(cli_env, tmp_path, "--quiet", "campaigns", "create", "campaign.json")

    assert refused.returncode == 1 and refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert "code invalid_input" in line and said in line, line


@pytest.mark.e2e
def test_cli_lists_campaigns_and_optimizers(cli_env: dict[str, str], tmp_path: Path) -> None:
    listed = stratus(cli_env, tmp_path, "campaigns", "ls", "--json")
    described = stratus(cli_env, tmp_path, "campaigns", "optimizers")

    assert listed.returncode == 0 and "items" in json.loads(listed.stdout), listed.stderr
    assert described.returncode == 0, described.stderr
    assert all(name in described.stdout for name in ("grid", "bayesian", "tpe", "n_startup_trials"))
