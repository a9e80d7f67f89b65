"""Warm worker processes: a job is a forked process of its own, with its environment, output and exit code."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from stratus.local import workers
from stratus.local.server import aws_environment

TIMEOUT_S = 60


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers: a worker calling it blocks."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def _environment(**variables: str) -> dict[str, str]:
    return {**os.environ, "TABLE_NAME": "records", "DATA_BUCKET": "data", **variables}


def test_job_runs_the_worker_main_with_its_output_in_the_file(tmp_path: Path) -> None:
    output = tmp_path / "output.log"

    process = workers.start_job(["--help"], _environment(), output)
    process.join(TIMEOUT_S)

    assert process.exitcode == 0
    assert "run-execution" in output.read_text()


def test_job_exit_code_is_the_workers(tmp_path: Path) -> None:
    process = workers.start_job(["no-such-command"], _environment(), tmp_path / "output.log")
    process.join(TIMEOUT_S)

    assert process.exitcode == 2  # argparse's usage error
    assert "invalid choice" in (tmp_path / "output.log").read_text()


def test_job_gets_exactly_its_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without TABLE_NAME the worker's settings refuse to load, whatever the parent's environment holds.
    monkeypatch.setenv("TABLE_NAME", "records")
    environment = {k: v for k, v in _environment().items() if k != "TABLE_NAME"}

    process = workers.start_job(["run-execution", "x"], environment, tmp_path / "output.log")
    process.join(TIMEOUT_S)

    assert process.exitcode == 1
    assert "table_name" in (tmp_path / "output.log").read_text().lower()


def test_terminated_job_ends_by_sigterm(tmp_path: Path, silent_endpoint: str) -> None:
    environment = _environment(**aws_environment(silent_endpoint))
    process = workers.start_job(["run-execution", "x"], environment, tmp_path / "output.log")
    process.join(1.0)
    assert process.exitcode is None  # waiting on the endpoint that never answers

    process.terminate()
    process.join(TIMEOUT_S)

    assert process.exitcode == -15


def test_jobs_get_a_new_zygote_when_theirs_died(tmp_path: Path) -> None:
    dead = workers._zygote().process
    dead.kill()
    dead.wait(TIMEOUT_S)

    process = workers.start_job(["--help"], _environment(), tmp_path / "output.log")
    process.join(TIMEOUT_S)

    assert workers._zygote().process is not dead
    assert workers._zygote().process.poll() is None
