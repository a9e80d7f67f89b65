"""Worker fixtures: the fixture Compox package deployed, input files uploaded, execution records made."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from stratus import aws as aws_clients
from stratus.algorithms import package_from_folder
from stratus.local.bootstrap import bootstrap
from stratus.local.server import aws_environment, running_server
from stratus.models.algorithms import AlgorithmVersionRecord
from stratus.models.executions import ExecutionRecord
from stratus.services import algorithms, files, jobs
from stratus.settings import Settings
from stratus.stores import Stores, build_stores

PACKAGES = Path(__file__).resolve().parents[1] / "core" / "algorithms" / "packages"
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
TENANT = "local"
# The fixture package adds this offset, read from its asset files/offset.txt.
SCALE_OFFSET = 1.5


def hdf5_bytes(**datasets: Any) -> bytes:
    """An HDF5 file with one top-level dataset per keyword."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for name, value in datasets.items():
            handle.create_dataset(name, data=value)
    return buffer.getvalue()


def read_dataset(body: bytes, name: str) -> np.ndarray:
    """One dataset of an HDF5 file's bytes."""
    with h5py.File(io.BytesIO(body), "r") as handle:
        return np.asarray(handle[name][()])


def deploy_scale(stores: Stores, settings: Settings) -> AlgorithmVersionRecord:
    """Deploy tests/core/algorithms/packages/compox_scale unchanged."""
    return deploy_folder(PACKAGES / "compox_scale", stores, settings)


def deploy_folder(folder: Path, stores: Stores, settings: Settings) -> AlgorithmVersionRecord:
    """Deploy a Compox package folder as the test tenant, as the API does."""
    return algorithms.deploy(package_from_folder(folder), TENANT, stores, settings)


def new_execution(stores: Stores, algorithm_id: str, input_ids: list[str], **fields: Any) -> ExecutionRecord:
    """Store a PENDING execution record, as the API does, and return it."""
    now = stores.clock()
    # The plan is made as the API makes it (one rule); a test may still store values the API refuses.
    plan, _ = jobs.plan_job(
        algorithm_id,
        fields.get("algorithm_minor_version"),
        fields.get("checkpoint_id"),
        fields.get("additional_parameters", {}),
        fields.get("execution_device_override"),
        TENANT,
        stores,
    )
    record = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=TENANT,
        algorithm_id=algorithm_id,
        input_dataset_ids=input_ids,
        created_at=now,
        expires_at=int(now) + 86_400,
        plan=plan,
        **fields,
    )
    stores.executions.create(record)
    return record


@pytest.fixture
def scale_version(stores: Stores, settings: Settings) -> AlgorithmVersionRecord:
    return deploy_scale(stores, settings)


@pytest.fixture
def upload(stores: Stores, settings: Settings) -> Callable[..., str]:
    """``upload(data=array)`` stores a READY input file and returns its id."""

    def store(**datasets: Any) -> str:
        return files.store_upload(hdf5_bytes(**datasets), TENANT, stores, settings).file_id

    return store


@pytest.fixture
def make_execution(stores: Stores, scale_version: AlgorithmVersionRecord) -> Callable[..., ExecutionRecord]:
    """``make_execution(input_ids, **fields)`` → a PENDING execution of the deployed scale package."""

    def make(input_ids: list[str], **fields: Any) -> ExecutionRecord:
        return new_execution(stores, scale_version.algorithm_id, input_ids, **fields)

    return make


@pytest.fixture
def server_stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stores, Settings, dict[str, str]]]:
    """A moto server with the template's table and bucket; stores in this process and the worker's env."""
    with running_server() as server:
        environment = aws_environment(server.endpoint_url)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        aws_clients.clear_caches()
        stack = bootstrap(TEMPLATE, endpoint_url=server.endpoint_url, region="us-east-1", data_only=True)
        settings = Settings(table_name=stack.table_name, data_bucket=stack.data_bucket)
        worker_environment = {**environment, "TABLE_NAME": stack.table_name, "DATA_BUCKET": stack.data_bucket}
        yield build_stores(settings), settings, worker_environment
    aws_clients.clear_caches()
