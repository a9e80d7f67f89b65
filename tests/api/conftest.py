"""Fixtures the API tests share: the built-in threshold, deployed as the operator does, and an uploaded
input file of the caller."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.services import algorithms
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.builtins import builtin_zip

OCTET = {"content-type": "application/octet-stream"}


@pytest.fixture
def threshold_id(stores: Stores, settings: Settings) -> str:
    return algorithms.deploy(builtin_zip("threshold"), BUILTIN_OWNER, stores, settings).algorithm_id


@pytest.fixture
def input_id(client: TestClient, hdf5_file: Callable[..., bytes]) -> str:
    response = client.post("/api/v0/files", content=hdf5_file(), headers=OCTET)
    assert response.status_code == 200, response.text
    return str(response.json()["file_id"])
