"""The environment build (pip from a local wheel folder, against moto) and its use by a job: staged from a
per-digest cache into the job's folder and first on the algorithm's import path in its sandbox."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from stratus.algorithms import package_from_folder
from stratus.errors import InvalidInputError, NotFoundError
from stratus.models.environments import EnvironmentRecord, EnvironmentStatus
from stratus.models.executions import ExecutionStatus
from stratus.services import algorithms
from stratus.settings import Settings
from stratus.stores import Stores
from stratus.stores.layout import environment_key

from gpu_worker import envs
from gpu_worker.__main__ import main as worker_main
from gpu_worker.jobs import run_execution
from tests.core.services.test_environments import RecordingBuilds
from tests.gpu_worker.wheels import TEST_DISTRIBUTION, TEST_VALUE, make_wheel

from .conftest import TENANT, new_execution, read_dataset

PACKAGE = Path(__file__).resolve().parent / "packages" / "with_dependency"
OTHER_TAG = "cp399-linux_x86_64"


@pytest.fixture(autouse=True)
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip installs from this folder only (no network); the host's cache is this test's own."""
    folder = tmp_path / "wheels"
    make_wheel(folder)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.setattr(envs, "CACHE_ROOT", tmp_path / "cache")
    return folder


@pytest.fixture
def building(stores: Stores, settings: Settings) -> tuple[str, str]:
    """The fixture package deployed: its algorithm id and its environment's digest (BUILDING)."""
    builds = RecordingBuilds()
    version = algorithms.deploy(package_from_folder(PACKAGE), TENANT, stores, settings, builds)
    assert version.environment is not None
    return version.algorithm_id, version.environment


def _record(stores: Stores, digest: str) -> EnvironmentRecord:
    record = stores.environments.find(digest)
    assert record is not None
    return record


def test_build_uploads_only_what_the_worker_lacks(
    stores: Stores, building: tuple[str, str], tmp_path: Path
) -> None:
    _, digest = building

    envs.build(digest, stores)

    target = tmp_path / "staged"
    envs.stage(digest, stores.objects, target)
    assert (target / TEST_DISTRIBUTION / "__init__.py").is_file()
    assert not (target / "numpy").exists()


def test_build_of_a_ready_environment_leaves_it(stores: Stores, building: tuple[str, str]) -> None:
    _, digest = building
    first = envs.build(digest, stores)

    again = envs.build(digest, stores)

    assert again == first


def test_build_for_another_interpreter_fails_naming_both(
    stores: Stores, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "worker_python_tag", OTHER_TAG)
    version = algorithms.deploy(package_from_folder(PACKAGE), TENANT, stores, settings, RecordingBuilds())
    assert version.environment is not None

    failed = envs.build(version.environment, stores)

    assert failed.status is EnvironmentStatus.FAILED
    assert failed.error is not None
    assert OTHER_TAG in failed.error


def test_build_of_an_unknown_environment_is_not_found(stores: Stores) -> None:
    with pytest.raises(NotFoundError):
        envs.build("0" * 64, stores)


def test_stage_refuses_what_is_not_a_digest(stores: Stores, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        envs.stage("../../etc", stores.objects, tmp_path)


def test_stage_reads_the_hosts_cache_once_downloaded(
    stores: Stores, building: tuple[str, str], tmp_path: Path
) -> None:
    _, digest = building
    envs.build(digest, stores)
    envs.stage(digest, stores.objects, tmp_path / "first")
    stores.objects.delete(environment_key(digest))

    envs.stage(digest, stores.objects, tmp_path / "second")

    assert (tmp_path / "second" / TEST_DISTRIBUTION / "__init__.py").is_file()


def test_worker_command_builds_an_environment(stores: Stores, building: tuple[str, str]) -> None:
    _, digest = building

    status = worker_main(["build-environment", digest])

    assert status == envs.EXIT_READY
    assert _record(stores, digest).status is EnvironmentStatus.READY


def test_worker_command_exits_failed_when_pip_fails(
    stores: Stores, building: tuple[str, str], wheels: Path
) -> None:
    _, digest = building
    (wheels / f"{TEST_DISTRIBUTION}-1.0-py3-none-any.whl").unlink()

    status = envs.main(["build", digest])

    assert status == envs.EXIT_FAILED
    assert "stratus-testdep==1.0" in (_record(stores, digest).error or "")


def test_execution_imports_its_environment_in_the_sandbox(
    stores: Stores, settings: Settings, building: tuple[str, str], upload
) -> None:
    algorithm_id, digest = building
    envs.build(digest, stores)
    execution = new_execution(stores, algorithm_id, [upload(data=np.zeros(2, dtype=np.float32))])

    final = run_execution(execution.execution_id, stores, settings)

    assert final.status is ExecutionStatus.COMPLETED, final.error
    (output_id,) = final.output_dataset_ids
    output = read_dataset(stores.objects.get(stores.files.get(output_id, TENANT).s3_key), "data")
    assert bytes(output.astype(np.uint8)).decode() == TEST_VALUE
    assert f"{Path('environment') / TEST_DISTRIBUTION}" in final.log
    assert TEST_DISTRIBUTION not in sys.modules  # imported in the sandbox, never by the worker
