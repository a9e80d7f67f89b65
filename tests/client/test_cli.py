"""The `stratus` command line against a real local stack, run as a shell runs it (the console script in a
subprocess: stdout holds only what the command printed)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.client.helpers import write_volume

if TYPE_CHECKING:
    from stratus.local.process import LocalStackProcess

pytestmark = pytest.mark.e2e
STRATUS = str(Path(sys.executable).with_name("stratus"))
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
WORKFLOW_YAML = """\
name: two-steps
steps:
  - id: cut
    algorithm: threshold
    config: {input_dataset_ids: [volume.h5], additional_parameters: {threshold: 0.4}}
  - id: scale
    algorithm: threshold:1
    depends_on: [cut]
    config: {additional_parameters: {operation: normalize}}
    input_mappings:
      - {from_step: cut, from_field: "output_dataset_ids[0]", to_field: input_dataset_ids}
"""


def stratus(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `stratus ARGS…` in ``cwd`` with ``env`` over this process's environment."""
    return subprocess.run(
        [STRATUS, *args], env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def test_run_with_out_prints_json_and_downloads_outputs(cli_env: dict[str, str], tmp_path: Path) -> None:
    write_volume(tmp_path / "volume.h5", (8, 8))

    result = stratus(
        cli_env, tmp_path, "run", "threshold", "volume.h5", "-p", "threshold=0.2", "--out", "out", "--json"
    )

    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "COMPLETED"
    assert record["additional_parameters"]["threshold"] == 0.2
    assert [Path(p).name for p in record["downloads"]] == [f"{i}.h5" for i in record["output_dataset_ids"]]
    assert all((tmp_path / p).is_file() for p in record["downloads"])


def test_run_refuses_a_bad_parameter_with_its_name(cli_env: dict[str, str], tmp_path: Path) -> None:
    write_volume(tmp_path / "volume.h5", (4, 4))

    result = stratus(cli_env, tmp_path, "run", "threshold", "volume.h5", "-p", "speed=3")

    assert result.returncode == 1
    assert "unknown parameter 'speed'" in result.stderr
    assert "invalid_input" in result.stderr
    assert result.stdout == ""


def test_missing_id_exits_1_with_the_apis_detail_and_code(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = stratus(cli_env, tmp_path, "executions", "show", UNKNOWN_ID)

    assert result.returncode == 1
    assert "not_found" in result.stderr
    assert "404" in result.stderr


def test_files_upload_ls_and_rm(cli_env: dict[str, str], tmp_path: Path) -> None:
    write_volume(tmp_path / "volume.h5", (4, 4))

    uploaded = json.loads(stratus(cli_env, tmp_path, "files", "upload", "volume.h5", "--json").stdout)
    listed = json.loads(stratus(cli_env, tmp_path, "files", "ls", "--json").stdout)
    removed = stratus(cli_env, tmp_path, "files", "rm", uploaded[0]["file_id"])
    after = stratus(cli_env, tmp_path, "files", "status", uploaded[0]["file_id"])

    assert uploaded[0]["status"] == "READY"
    assert uploaded[0]["file_id"] in [item["file_id"] for item in listed["items"]]
    assert removed.returncode == 0
    assert after.returncode == 1


def test_workflow_submitted_from_yaml_completes(cli_env: dict[str, str], tmp_path: Path) -> None:
    write_volume(tmp_path / "volume.h5", (8, 8))
    (tmp_path / "flow.yaml").write_text(WORKFLOW_YAML)

    result = stratus(
        cli_env, tmp_path, "workflows", "submit", "flow.yaml", "--wait", "--timeout", "120", "--json"
    )

    assert result.returncode == 0, result.stderr
    workflow = json.loads(result.stdout)
    assert workflow["status"] == "COMPLETED"
    assert [step["status"] for step in workflow["steps"]] == ["COMPLETED", "COMPLETED"]


def test_login_saves_a_private_config_that_later_commands_use(
    local_stack: LocalStackProcess, token: str, tmp_path: Path
) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "STRATUS_URL": "", "STRATUS_TOKEN": ""}

    login = stratus(env, tmp_path, "login", "--url", local_stack.api_url, "--token", token)
    listed = stratus(env, tmp_path, "algorithms", "ls", "--json")

    assert login.returncode == 0, login.stderr
    assert stat.S_IMODE((tmp_path / "stratus" / "config.json").stat().st_mode) == 0o600
    assert "threshold" in [a["algorithm_name"] for a in json.loads(listed.stdout)]


def test_login_refuses_a_bad_token_and_saves_nothing(local_stack: LocalStackProcess, tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}

    result = stratus(env, tmp_path, "login", "--url", local_stack.api_url, "--token", "nope")

    assert result.returncode == 1
    assert "unauthorized" in result.stderr
    assert not (tmp_path / "stratus" / "config.json").exists()


def test_token_create_ls_revoke(cli_env: dict[str, str], tmp_path: Path) -> None:
    created = json.loads(stratus(cli_env, tmp_path, "token", "create", "ci", "--json").stdout)
    listed = json.loads(stratus(cli_env, tmp_path, "token", "ls", "--json").stdout)
    revoked = stratus(cli_env, tmp_path, "token", "revoke", created["token_id"])

    assert created["token"].startswith("stratus_")
    assert created["token_id"] in [t["token_id"] for t in listed]
    assert revoked.returncode == 0
