"""The README's training walkthrough, run with bash against the local stack exactly as a user pastes it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from stratus.local.process import LocalStackProcess

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
TRAINING_HEADING = "## Trainings: samples, chains, checkpoints"
WORKFLOW_HEADING = "## Workflows: DAGs of steps, pause, resume, cache"
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Under pytest-timeout's 300 s, which also covers starting the stack.
TIMEOUT_S = 240


def bash_block_after(heading: str, text: str) -> str:
    """The first bash block of the section under ``heading``."""
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    match = BASH_BLOCK.search(section)
    assert match is not None, f"no bash block under {heading!r}"
    return match.group(1)


def run_block(
    heading: str, local_stack: LocalStackProcess, auth_headers: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Run the README's bash block under ``heading`` as a user would, against the local stack."""
    block = bash_block_after(heading, README.read_text())
    # The block reads API and PY with defaults; the venv running the tests has the generator installed.
    # TMPDIR keeps its mktemp folder, like everything else it writes, under tmp_path.
    token = auth_headers["Authorization"].removeprefix("Bearer ")
    env = {
        **os.environ,
        "API": local_stack.api_url,
        "STRATUS_TOKEN": token,
        "PY": sys.executable,
        "TMPDIR": str(tmp_path),
    }
    return subprocess.run(
        ["bash", "-c", block],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_readme_training_block_runs_to_completed(
    local_stack: LocalStackProcess, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    result = run_block(TRAINING_HEADING, local_stack, auth_headers, tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    statuses = [line.split()[0] for line in result.stdout.splitlines() if re.match(r"^[A-Z]+ \d+%$", line)]
    assert statuses.count("COMPLETED") == 2, output
    assert not {"FAILED", "STOPPED"} & set(statuses), output
    assert "files/unet3d.pt" in result.stdout, output


def test_readme_workflow_block_runs_then_reruns_from_cache(
    local_stack: LocalStackProcess, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    result = run_block(WORKFLOW_HEADING, local_stack, auth_headers, tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    ended = [line for line in result.stdout.splitlines() if line.startswith(("COMPLETED", "FAILED"))]
    assert len(ended) == 2 and all(line.startswith("COMPLETED 100%") for line in ended), output
    assert ended[1].count("(cached)") == 4 and "(cached)" not in ended[0], output
    assert '"code":"invalid_input"' in result.stdout and "cycle" in result.stdout, output
