"""Workspaces and scenarios through the SDK and the `stratus` command, against the shared local stack."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import numpy as np
import pytest
from stratus_client import AlreadyExistsError, Client, IllegalTransitionError

from tests.client.helpers import read_dataset, write_dataset
from tests.client.test_cli import stratus

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e


def test_sdk_saves_runs_resets_and_copies_a_scenario(client: Client, tmp_path: Path) -> None:
    write_dataset(tmp_path / "volume.h5", np.array([[0.1, 0.6], [0.5, 0.9]], dtype=np.float32))
    workspace = client.create_workspace(f"sdk-{uuid.uuid4().hex[:8]}")
    scenario = client.create_scenario(
        workspace.id, "cut", "threshold", [tmp_path / "volume.h5"], {"threshold": 0.5}
    )

    ran = client.run_scenario(workspace.id, scenario.id, wait=True, timeout=120)
    with pytest.raises(IllegalTransitionError):
        client.run_scenario(workspace.id, scenario.id)
    reset = client.reset_scenario(workspace.id, scenario.id)
    copy = client.copy_workspace(workspace.id, f"{workspace.display_name}-copy")
    with pytest.raises(AlreadyExistsError):
        client.create_workspace(workspace.display_name)

    assert ran.status == "COMPLETED" and ran.result is not None
    (output_id,) = ran.result["output_dataset_ids"]
    client.download(output_id, tmp_path)
    assert read_dataset(tmp_path / f"{output_id}.h5").tolist() == [[0, 1], [0, 1]]
    assert (reset.status, reset.result) == ("CREATED", None)
    (copied,) = client.list_scenarios(copy.id)
    assert (copied.tag, copied.dataset_ids) == ("cut", scenario.dataset_ids)
    left = client.delete_workspace(copy.id)
    assert copy.id not in [w.id for w in left.workspaces]


def test_cli_workspaces_and_scenarios(cli_env: dict[str, str], tmp_path: Path) -> None:
    write_dataset(tmp_path / "volume.h5", np.array([[0.1, 0.6]], dtype=np.float32))
    name = f"cli-{uuid.uuid4().hex[:8]}"

    created = stratus(cli_env, tmp_path, "workspaces", "create", name, "--json")
    workspace_id = json.loads(created.stdout)["id"]
    scenario = stratus(
        cli_env, tmp_path, "scenarios", "create", "cut", "-w", workspace_id, "-a", "threshold",
        "-d", "volume.h5", "-p", "threshold=0.5", "--json",
    )  # fmt: skip
    scenario_id = json.loads(scenario.stdout)["id"]
    ran = stratus(cli_env, tmp_path, "scenarios", "run", scenario_id, "-w", workspace_id, "--wait", "--json")
    status = stratus(cli_env, tmp_path, "scenarios", "status", scenario_id, "-w", workspace_id, "--json")
    listed = stratus(cli_env, tmp_path, "workspaces", "ls", "--json")
    taken = stratus(cli_env, tmp_path, "workspaces", "create", name)
    removed = stratus(cli_env, tmp_path, "workspaces", "rm", workspace_id, "--json")

    assert created.returncode == scenario.returncode == ran.returncode == 0, created.stderr + scenario.stderr
    assert json.loads(ran.stdout)["status"] == "COMPLETED", ran.stderr
    assert json.loads(status.stdout) == {
        "id": scenario_id,
        "tag": "cut",
        "status": "COMPLETED",
        "progress": 1.0,
    }
    assert name in [w["display_name"] for w in json.loads(listed.stdout)["workspaces"]]
    assert taken.returncode == 1 and "already_exists" in taken.stderr
    assert workspace_id not in [w["id"] for w in json.loads(removed.stdout)["workspaces"]]
