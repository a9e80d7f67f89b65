"""Worker fixtures: the fixture Compox package deployed, input files uploaded, execution records made."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from stratus.algorithms import package_from_folder
from stratus.models.algorithms import AlgorithmVersionRecord
from stratus.models.executions import ExecutionRecord
from stratus.services import algorithms, files, jobs
from stratus.settings import Settings
from stratus.stores import Stores

PACKAGES = Path(__file__).resolve().parents[1] / "core" / "algorithms" / "packages"
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
    return algorithms.deploy(package_from_folder(PACKAGES / "compox_scale"), stores, settings)


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
