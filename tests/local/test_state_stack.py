"""`make dev` keeps its state: a real local stack with a state folder is stopped (SIGTERM) and started
again on it; and a stack serves nothing, not /health, before its built-ins are deployed."""

from __future__ import annotations

import io
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import pytest
from stratus.algorithms import package_from_folder
from stratus.local.process import BANNER, LocalStackProcess, running_local_stack
from stratus.local.recovery import STOPPED_ERROR, STOPPED_MESSAGE
from stratus.local.server import DEFAULT_HOST, free_port, stop_process
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.stores.algorithms import owner_partition

from tests.conftest import TEMPLATE, wait_until

pytestmark = pytest.mark.e2e

BEHAVIOURS = TEMPLATE.parent / "tests" / "e2e" / "packages" / "behaviours"
EXECUTE = "/api/v0/execute-algorithm"
TIMEOUT_S = 90
STOP_TIMEOUT_S = 60


@dataclass(frozen=True)
class Before:
    """What the first stack made, as its API answered, before it was stopped."""

    file_id: str
    file_bytes: bytes
    algorithm_id: str
    completed: dict[str, Any]
    running_id: str
    api_token: str
    id_token: str
    algorithms: list[dict[str, Any]]
    copy: Path  # the state folder as the stop left it, for the --fresh test


def _hdf5() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=np.array([[0.2, 0.7], [0.9, 0.1]], dtype=np.float32))
    return buffer.getvalue()


def _wait_for(api: httpx.Client, execution_id: str, statuses: set[str]) -> dict[str, Any]:
    wait_until(lambda: api.get(f"/api/v0/executions/{execution_id}").json()["status"] in statuses, TIMEOUT_S)
    record: dict[str, Any] = api.get(f"/api/v0/executions/{execution_id}").json()
    return record


def _execute(api: httpx.Client, algorithm_id: str, file_id: str, behaviour: str) -> str:
    body = {
        "algorithm_id": algorithm_id,
        "input_dataset_ids": [file_id],
        "additional_parameters": {"behaviour": behaviour},
    }
    response = api.post(EXECUTE, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["execution_id"])


def _client(stack: LocalStackProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {token}"})


def _make_state(stack: LocalStackProcess) -> dict[str, Any]:
    """A file, an algorithm, a completed and a running execution and an API token on ``stack``."""
    id_token = stack.token()
    with _client(stack, id_token) as api:
        uploaded = api.post(
            "/api/v0/files", content=_hdf5(), headers={"content-type": "application/octet-stream"}
        )
        assert uploaded.status_code == 200, uploaded.text
        file_id = uploaded.json()["file_id"]
        deployed = api.post(
            "/api/v0/algorithms",
            content=package_from_folder(BEHAVIOURS),
            headers={"content-type": "application/zip"},
        )
        assert deployed.status_code == 201, deployed.text
        algorithm_id = deployed.json()["algorithm_id"]
        completed = _wait_for(api, _execute(api, algorithm_id, file_id, "echo"), {"COMPLETED", "FAILED"})
        assert completed["status"] == "COMPLETED", completed
        running_id = _execute(api, algorithm_id, file_id, "run_until_stopped")
        _wait_for(api, running_id, {"RUNNING"})
        token = api.post("/api/v0/tokens", json={"name": "kept"})
        assert token.status_code == 201, token.text
        return {
            "file_id": file_id,
            "file_bytes": api.get(f"/api/v0/files/{file_id}").content,
            "algorithm_id": algorithm_id,
            "completed": api.get(f"/api/v0/executions/{completed['execution_id']}").json(),
            "running_id": running_id,
            "api_token": token.json()["token"],
            "id_token": id_token,
            "algorithms": api.get("/api/v0/algorithm/all").json(),
        }


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def before(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Before:
    with running_local_stack(TEMPLATE, state_dir=state_dir) as stack:
        made = _make_state(stack)
        stack.process.send_signal(signal.SIGTERM)  # as `kill` stops `make dev`
        assert stack.process.wait(STOP_TIMEOUT_S) == 0
    copy = tmp_path_factory.mktemp("copy") / "state"
    shutil.copytree(state_dir, copy)
    return Before(**made, copy=copy)


@pytest.fixture(scope="module")
def after(before: Before, state_dir: Path) -> Iterator[LocalStackProcess]:
    with running_local_stack(TEMPLATE, state_dir=state_dir) as stack:
        yield stack


@pytest.fixture
def api(after: LocalStackProcess) -> Iterator[httpx.Client]:
    with _client(after, after.token()) as client:
        yield client


# --- --fresh, and serving only once ready (first: one stack at a time on a small machine) -------------


class _Launcher:
    """`python -m stratus.local` on chosen ports, its output read as it comes."""

    def __init__(self, *arguments: str) -> None:
        self.api_port, self.aws_port, self.s3_port = free_port(), free_port(), free_port()
        command = [
            sys.executable, "-m", "stratus.local", "--template", str(TEMPLATE),
            "--api-port", str(self.api_port), "--aws-port", str(self.aws_port),
            "--s3-port", str(self.s3_port), *arguments,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=TEMPLATE.parent, stdout=subprocess.PIPE)  # noqa: S603
        self.banner = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            sys.stdout.buffer.write(line)
            if BANNER.encode() in line:
                self.banner.set()

    @property
    def stack(self) -> LocalStackProcess:
        url = f"http://{DEFAULT_HOST}:{{}}".format
        return LocalStackProcess(self.process, url(self.api_port), url(self.aws_port), url(self.s3_port))

    def health(self) -> int | None:
        """/health's status code, or None while nothing answers."""
        try:
            return httpx.get(f"http://{DEFAULT_HOST}:{self.api_port}/health", timeout=5).status_code
        except httpx.TransportError:
            return None

    def has_builtins(self) -> bool:
        """Whether the built-ins are in the table (read straight from the emulated DynamoDB)."""
        dynamodb = self.stack.client("dynamodb")
        (table,) = dynamodb.list_tables()["TableNames"]
        found = dynamodb.query(
            TableName=table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": owner_partition(BUILTIN_OWNER)}},
        )
        return found["Count"] > 0

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        finally:
            stop_process(self.process)


def test_fresh_start_is_empty_and_serves_only_once_the_builtins_are_deployed(before: Before) -> None:
    launcher = _Launcher("--state-dir", str(before.copy), "--fresh")
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while (status := launcher.health()) is None:
            assert launcher.process.poll() is None, "the local stack exited while starting"
            assert time.monotonic() < deadline, "the API never answered"
            time.sleep(0.02)
        deployed = launcher.has_builtins()
        with _client(launcher.stack, launcher.stack.token()) as api:
            names = {a["algorithm_name"] for a in api.get("/api/v0/algorithm/all").json()}
            file_status = api.get(f"/api/v0/files/{before.file_id}/status").status_code
    finally:
        launcher.stop()

    assert (status, deployed) == (200, True)
    assert "e2e_behaviours" not in names
    assert file_status == 404


# --- a restart on the same folder -------------------------------------------------------------------


def test_restart_keeps_a_file_ready_with_its_bytes(before: Before, api: httpx.Client) -> None:
    status = api.get(f"/api/v0/files/{before.file_id}/status").json()

    downloaded = api.get(f"/api/v0/files/{before.file_id}")

    assert status["status"] == "READY"
    assert downloaded.content == before.file_bytes


def test_restart_keeps_a_completed_execution_as_it_was(before: Before, api: httpx.Client) -> None:
    answer = api.get(f"/api/v0/executions/{before.completed['execution_id']}")

    assert answer.json() == before.completed


def test_restart_keeps_an_algorithm_listed_and_runnable(before: Before, api: httpx.Client) -> None:
    execution_id = _execute(api, before.algorithm_id, before.file_id, "echo")

    record = _wait_for(api, execution_id, {"COMPLETED", "FAILED"})

    assert record["status"] == "COMPLETED", record
    assert before.algorithm_id in {a["algorithm_id"] for a in api.get("/api/v0/algorithm/all").json()}


def test_restart_deploys_the_builtins_again_without_new_versions(before: Before, api: httpx.Client) -> None:
    listed = api.get("/api/v0/algorithm/all").json()

    assert _versions(listed) == _versions(before.algorithms)


def _versions(algorithms: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {a["algorithm_name"]: a["algorithm_minor_versions"] for a in algorithms}


def test_restart_keeps_api_tokens_working(before: Before, after: LocalStackProcess) -> None:
    with _client(after, before.api_token) as api:
        answer = api.get("/api/v0/files")

    assert answer.status_code == 200
    assert before.file_id in {f["file_id"] for f in answer.json()["items"]}


def test_restart_refuses_an_earlier_runs_id_token(before: Before, after: LocalStackProcess) -> None:
    with _client(after, before.id_token) as api:
        answer = api.get("/api/v0/files")

    assert answer.status_code == 401


def test_restart_fails_a_job_that_was_running(before: Before, api: httpx.Client) -> None:
    record = api.get(f"/api/v0/executions/{before.running_id}").json()

    assert record["status"] == "FAILED"
    assert STOPPED_ERROR in str(record) and STOPPED_MESSAGE in str(record)
