"""A hostile package (tests/e2e/packages/hostile) run by a real worker process against a moto server: it
looks for credentials, endpoints, stack names and other tenants' data, and reports what it found."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from stratus import aws as aws_clients
from stratus.local.bootstrap import bootstrap
from stratus.local.server import aws_environment, running_server
from stratus.models.executions import ExecutionStatus
from stratus.services import files
from stratus.settings import Settings
from stratus.stores import Stores, build_stores

from tests.gpu_worker.conftest import TEMPLATE, TENANT, deploy_folder, hdf5_bytes, new_execution

HOSTILE = Path(__file__).resolve().parents[2] / "e2e" / "packages" / "hostile"
IS_ROOT = os.geteuid() == 0

pytestmark = pytest.mark.e2e


def _report(stores: Stores, output_id: str) -> dict[str, Any]:
    body = stores.objects.get(stores.files.get(output_id, TENANT).s3_key)
    with h5py.File(io.BytesIO(body), "r") as handle:
        report: dict[str, Any] = json.loads(handle["report"].asstr()[()])
    return report


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """What the hostile package reported, run by `python -m gpu_worker` as Batch runs it (once for the
    module: a moto server, a worker and its algorithm's process take many seconds)."""
    with pytest.MonkeyPatch.context() as monkeypatch, running_server() as server:
        environment = aws_environment(server.endpoint_url)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        aws_clients.clear_caches()
        stack = bootstrap(TEMPLATE, endpoint_url=server.endpoint_url, region="us-east-1", data_only=True)
        settings = Settings(table_name=stack.table_name, data_bucket=stack.data_bucket)
        worker_environment = {**environment, "TABLE_NAME": stack.table_name, "DATA_BUCKET": stack.data_bucket}
        stores = build_stores(settings)
        report = _run_hostile(stores, settings, worker_environment, tmp_path_factory.mktemp("worker"))
        yield {"report": report, "secrets": _secrets(settings, worker_environment)}
    aws_clients.clear_caches()


def _run_hostile(
    stores: Stores, settings: Settings, environment: dict[str, str], cwd: Path
) -> dict[str, Any]:
    version = deploy_folder(HOSTILE, stores, settings)
    input_id = files.store_upload(hdf5_bytes(data=np.zeros(1)), TENANT, stores, settings).file_id
    probe = {"probe_endpoint": environment["AWS_ENDPOINT_URL"]}  # as if it guessed the port
    execution = new_execution(stores, version.algorithm_id, [input_id], additional_parameters=probe)

    worker = subprocess.run(  # noqa: S603  # our own module, with the current interpreter
        [sys.executable, "-m", "gpu_worker", "run-execution", execution.execution_id],
        env={**os.environ, **environment},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    final = stores.executions.get(execution.execution_id)
    assert final.status is ExecutionStatus.COMPLETED, worker.stderr + final.log
    return _report(stores, final.output_dataset_ids[0])


def _secrets(settings: Settings, environment: dict[str, str]) -> list[str]:
    """What the worker knows and the package must not: the stack's names, endpoints and credentials."""
    return [
        settings.table_name,
        settings.data_bucket,
        environment["AWS_ENDPOINT_URL"],
        environment["AWS_SECRET_ACCESS_KEY"],
        "AWS_ACCESS_KEY_ID",
        "TABLE_NAME",
        "DATA_BUCKET",
    ]


def _mentions(value: object, secrets: list[str]) -> list[str]:
    text = json.dumps(value)
    return [secret for secret in secrets if secret in text]


def test_hostile_package_finds_no_credentials_endpoints_or_stack_names_in_its_environment(found) -> None:
    report = found["report"]

    assert _mentions(report["environ"], found["secrets"]) == []
    assert not [name for name in report["environ"] if name.startswith(("AWS_", "ECS_"))]


def test_hostile_package_cannot_read_the_workers_environment(found) -> None:
    assert found["report"]["parent_environ"]["ok"] is False


@pytest.mark.skipif(not IS_ROOT, reason="as the worker's own user it reads that user's other processes")
def test_hostile_package_reads_no_processs_credentials(found) -> None:
    assert _mentions(found["report"]["proc_environ_readable"], found["secrets"]) == []


def _succeeded(attempt: dict[str, Any]) -> list[str]:
    """The AWS calls of an attempt that went through."""
    if not attempt["ok"]:
        return []
    result = attempt["result"]
    calls = {"list_tables": result["list_tables"], "list_buckets": result["list_buckets"], **result["scan"]}
    return [name for name, call in calls.items() if call["ok"]]


def test_hostile_package_finds_no_credentials_for_aws(found) -> None:
    assert _succeeded(found["report"]["aws"]["default_chain"]) == []


def test_hostile_package_cannot_reach_the_stack_with_fake_credentials(found) -> None:
    if found["report"]["network_interfaces"] != ["lo"]:
        pytest.skip("no network namespace here: moto accepts any credentials from a process that reaches it")

    assert _succeeded(found["report"]["aws"]["fake_credentials_at_endpoint"]) == []


def test_hostile_package_reaches_no_metadata_service(found) -> None:
    report = found["report"]

    assert all(attempt["ok"] is False for attempt in report["metadata"].values())


def test_hostile_package_reaches_no_network_where_namespaces_are_allowed(found) -> None:
    if found["report"]["network_interfaces"] != ["lo"]:
        pytest.skip(
            "no network namespace here: sockets connect, but AWS refuses a caller without credentials"
        )

    assert found["report"]["endpoint_socket"]["ok"] is False
    assert found["report"]["internet_socket"]["ok"] is False


@pytest.mark.skipif(not IS_ROOT, reason="only a root worker runs the algorithm as another user")
def test_hostile_package_runs_unprivileged_and_cannot_touch_the_worker(found) -> None:
    report = found["report"]

    assert report["uid"] != 0
    assert report["signal_parent"]["ok"] is False
    assert report["become_root"]["ok"] is False


def test_hostile_package_sees_no_other_jobs_folders(found) -> None:
    listings = found["report"]["listings"]
    package_dir = next(path for path in listings if path.endswith("/package"))
    job_dir = str(Path(package_dir).parent)
    around_job = listings[str(Path(job_dir).parent)]

    assert sorted(listings[job_dir]["result"]) == ["environment", "inbox", "inputs", "package", "work"]
    if around_job["ok"]:
        jobs = [
            name
            for name in around_job["result"]
            if name.startswith(("stratus-execution-", "stratus-training-"))
        ]
        assert jobs == [Path(job_dir).name]


def test_hostile_package_report_for_the_docs(found, capsys: pytest.CaptureFixture[str]) -> None:
    # Not an assertion: what it found, printed for docs/algorithms.md's account (pytest -s shows it).
    print(json.dumps(found["report"], indent=1)[:20000])
