"""Declared dependencies as clients see them: the version's status and pip's error on every algorithm
read, an unparsable requirement refused at deploy, and a job of a BUILDING or FAILED version refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stratus.algorithms import package_from_folder
from stratus.api import create_app
from stratus.models.algorithms import AlgorithmVersionRecord
from stratus.services import algorithms
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker import envs
from tests.core.services.test_environments import RecordingBuilds
from tests.gpu_worker.wheels import make_wheel

PACKAGE = Path(__file__).resolve().parents[1] / "gpu_worker" / "packages" / "with_dependency"
TENANT = "local"
ZIP = {"content-type": "application/zip"}
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:never-started"


@pytest.fixture
def gateway_app(settings: Settings, stores: Stores) -> Any:
    """The API with a state machine named: a refused job never reaches it (nothing would answer)."""
    named = settings.model_copy(update={"execution_state_machine_arn": MACHINE_ARN})
    return create_app(named, stores)


@pytest.fixture
def deployed(stores: Stores, settings: Settings) -> AlgorithmVersionRecord:
    """The fixture package deployed as the caller: BUILDING (its build not run)."""
    return algorithms.deploy(package_from_folder(PACKAGE), TENANT, stores, settings, RecordingBuilds())


@pytest.fixture
def failed(
    deployed: AlgorithmVersionRecord, stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AlgorithmVersionRecord:
    """The fixture package, its build FAILED: pip's folder lacks its dependency."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    assert deployed.environment is not None
    envs.build(deployed.environment, stores)
    return deployed


def test_get_algorithm_shows_building(client: TestClient, deployed: AlgorithmVersionRecord) -> None:
    response = client.get("/api/v0/algorithm/with_dependency/1")

    assert response.status_code == 200
    assert response.json()["status"] == "BUILDING"
    assert response.json()["requirements"] == ["stratus-testdep==1.0"]


def test_get_algorithm_by_id_shows_failed_with_pips_message(
    client: TestClient, failed: AlgorithmVersionRecord
) -> None:
    response = client.get(f"/api/v0/algorithm/{failed.algorithm_id}")

    assert response.json()["status"] == "FAILED"
    assert "stratus-testdep==1.0" in response.json()["error"]


def test_list_algorithms_shows_ready_after_the_build(
    client: TestClient,
    deployed: AlgorithmVersionRecord,
    stores: Stores,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(make_wheel(tmp_path).parent))
    assert deployed.environment is not None
    envs.build(deployed.environment, stores)

    listed = {a["algorithm_name"]: a for a in client.get("/api/v0/algorithm/all").json()}

    assert listed["with_dependency"]["status"] == "READY"
    assert listed["with_dependency"]["error"] is None


def test_deploy_refuses_an_unparsable_requirement_storing_nothing(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "Runner.py").write_text((PACKAGE / "Runner.py").read_text())
    pyproject = (PACKAGE / "pyproject.toml").read_text().replace('"numpy"', '"numpy>=>1"')
    (tmp_path / "pyproject.toml").write_text(pyproject)

    response = client.post("/api/v0/algorithms", content=package_from_folder(tmp_path), headers=ZIP)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert "'numpy>=>1'" in response.json()["detail"]
    assert client.get("/api/v0/algorithm/with_dependency/1").status_code == 404


def test_execute_on_a_building_version_answers_not_ready(
    client: TestClient, deployed: AlgorithmVersionRecord, input_id: str
) -> None:
    body = {"algorithm_id": deployed.algorithm_id, "input_dataset_ids": [input_id]}

    response = client.post("/api/v0/execute-algorithm", json=body)

    assert response.status_code == 409
    assert response.json()["code"] == "not_ready"
    assert "environment building" in response.json()["detail"]


def test_execute_on_a_failed_version_answers_with_pips_message(
    client: TestClient, failed: AlgorithmVersionRecord, input_id: str
) -> None:
    body = {"algorithm_id": failed.algorithm_id, "input_dataset_ids": [input_id]}

    response = client.post("/api/v0/execute-algorithm", json=body)

    assert response.status_code == 409
    assert response.json()["code"] == "environment_failed"
    assert "stratus-testdep==1.0" in response.json()["detail"]


def test_another_tenant_does_not_see_the_version(
    client_for: Callable[[str], TestClient], deployed: AlgorithmVersionRecord
) -> None:
    response = client_for("acme").get(f"/api/v0/algorithm/{deployed.algorithm_id}")

    assert response.status_code == 404
