"""Declared dependencies through deploy, build and accept: a version reads BUILDING until its environment
is built (by the worker's real build, pip installing from a local wheel folder), READY after, FAILED with
pip's message; one build per dependency set however many deploys name it; jobs wait for READY."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from stratus.algorithms import package_from_folder
from stratus.algorithms.requirements import environment_digest, python_tag
from stratus.errors import EnvironmentFailedError, InvalidInputError, NotFoundError, NotReadyError
from stratus.models.environments import EnvironmentStatus
from stratus.models.executions import ExecutionCreate
from stratus.services import algorithms, environments, files, launch
from stratus.settings import Settings
from stratus.stores import BuildQueue, Stores
from stratus.stores.layout import environment_key

from gpu_worker import envs
from tests.conftest import MovableClock
from tests.core.services.test_jobs import FakeMachine
from tests.gpu_worker.wheels import make_wheel

TENANT = "local"
OTHER = "acme"
REQUIREMENT = "stratus-testdep==1.0"
RUNNER = """from compox.algorithm_utils.BaseRunner import BaseRunner


class Runner(BaseRunner):
    def inference(self, data, args=None):
        return data
"""


class RecordingBuilds(BuildQueue):
    """A build queue that records the builds started (the test runs them), or fails to start them."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__(None, "queue", "definition")
        self.error = error
        self.started: list[tuple[str, str]] = []

    def submit(self, digest: str, tenant: str) -> str:
        if self.error is not None:
            raise self.error
        self.started.append((digest, tenant))
        return f"job-{len(self.started)}"


@pytest.fixture
def builds() -> RecordingBuilds:
    return RecordingBuilds()


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local folder pip installs from (and only from: no network)."""
    folder = tmp_path / "wheels"
    make_wheel(folder)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


@pytest.fixture
def package(tmp_path: Path) -> Callable[..., bytes]:
    """``package(name, dependencies)``: a package zip declaring ``dependencies`` (a TOML array's text)."""

    def make(name: str = "with_deps", dependencies: str = f'["{REQUIREMENT}"]') -> bytes:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        (folder / "Runner.py").write_text(RUNNER)
        (folder / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "1.0.0"\ndependencies = {dependencies}\n\n'
            '[tool.compox]\nalgorithm_type = "Generic"\nsupported_devices = ["cpu"]\ndefault_device = "cpu"\n'
        )
        return package_from_folder(folder)

    return make


def _status(algorithm_id: str, stores: Stores) -> EnvironmentStatus:
    return algorithms.describe(algorithms.get_by_id(algorithm_id, TENANT, stores), stores).status


def _execute(algorithm_id: str, stores: Stores, settings: Settings, hdf5: bytes) -> str:
    input_id = files.store_ready(hdf5, TENANT, stores, settings).file_id
    request = ExecutionCreate(algorithm_id=algorithm_id, input_dataset_ids=[input_id])
    return launch.execute(request, TENANT, stores, FakeMachine())


def test_deploy_with_dependencies_reads_building(
    stores: Stores, settings: Settings, builds: RecordingBuilds, package: Callable[..., bytes]
) -> None:
    version = algorithms.deploy(package(), TENANT, stores, settings, builds)

    assert _status(version.algorithm_id, stores) is EnvironmentStatus.BUILDING
    assert builds.started == [(environment_digest([REQUIREMENT], python_tag()), TENANT)]


def test_build_makes_the_version_ready(
    stores: Stores, settings: Settings, builds: RecordingBuilds, package: Callable[..., bytes], wheels: Path
) -> None:
    version = algorithms.deploy(package(), TENANT, stores, settings, builds)

    built = envs.build(builds.started[0][0], stores)

    assert built.status is EnvironmentStatus.READY
    assert stores.objects.exists(environment_key(built.digest))
    assert _status(version.algorithm_id, stores) is EnvironmentStatus.READY


def test_second_deploy_of_the_same_set_starts_no_build(
    stores: Stores, settings: Settings, builds: RecordingBuilds, package: Callable[..., bytes]
) -> None:
    first = algorithms.deploy(package("first"), TENANT, stores, settings, builds)

    second = algorithms.deploy(package("second"), OTHER, stores, settings, builds)

    assert second.environment == first.environment
    assert len(builds.started) == 1


def test_deploy_of_a_built_set_is_ready_at_once(
    stores: Stores, settings: Settings, builds: RecordingBuilds, package: Callable[..., bytes], wheels: Path
) -> None:
    algorithms.deploy(package("first"), TENANT, stores, settings, builds)
    envs.build(builds.started[0][0], stores)

    again = algorithms.deploy(package("again"), OTHER, stores, settings, builds)

    assert algorithms.version_status(again, stores) is EnvironmentStatus.READY
    assert len(builds.started) == 1


def test_failed_build_keeps_pips_message(
    stores: Stores, settings: Settings, builds: RecordingBuilds, package: Callable[..., bytes], wheels: Path
) -> None:
    version = algorithms.deploy(
        package(dependencies='["stratus-missing>=1"]'), TENANT, stores, settings, builds
    )

    failed = envs.build(builds.started[0][0], stores)

    described = algorithms.describe(algorithms.get_by_id(version.algorithm_id, TENANT, stores), stores)
    assert failed.status is EnvironmentStatus.FAILED
    assert described.status is EnvironmentStatus.FAILED
    assert described.error is not None
    assert "No matching distribution found for stratus-missing" in described.error


def test_redeploy_of_a_failed_set_builds_again(
    stores: Stores, settings: Settings, builds: RecordingBuilds, package: Callable[..., bytes], wheels: Path
) -> None:
    missing = package(dependencies='["stratus-missing>=1"]')
    algorithms.deploy(missing, TENANT, stores, settings, builds)
    envs.build(builds.started[0][0], stores)

    version = algorithms.deploy(missing, TENANT, stores, settings, builds)

    assert len(builds.started) == 2
    assert algorithms.version_status(version, stores) is EnvironmentStatus.BUILDING


def test_abandoned_build_is_started_again(
    stores: Stores,
    settings: Settings,
    builds: RecordingBuilds,
    package: Callable[..., bytes],
    clock: MovableClock,
) -> None:
    algorithms.deploy(package("first"), TENANT, stores, settings, builds)
    clock.advance(environments.ABANDONED_BUILD_SECONDS + 1)

    algorithms.deploy(package("second"), TENANT, stores, settings, builds)

    assert len(builds.started) == 2


def test_build_that_cannot_be_submitted_fails_the_environment(
    stores: Stores, settings: Settings, package: Callable[..., bytes]
) -> None:
    with pytest.raises(RuntimeError):
        algorithms.deploy(package(), TENANT, stores, settings, RecordingBuilds(RuntimeError("batch is down")))

    record = stores.environments.find(environment_digest([REQUIREMENT], python_tag()))
    assert record is not None
    assert record.status is EnvironmentStatus.FAILED


def test_deploy_without_dependencies_builds_nothing(
    stores: Stores, settings: Settings, builds: RecordingBuilds, package: Callable[..., bytes]
) -> None:
    version = algorithms.deploy(package(dependencies='["numpy", "torch"]'), TENANT, stores, settings, builds)

    assert version.environment is None
    assert _status(version.algorithm_id, stores) is EnvironmentStatus.READY
    assert builds.started == []


def test_unparsable_dependency_is_refused_storing_nothing(
    stores: Stores, settings: Settings, builds: RecordingBuilds, package: Callable[..., bytes]
) -> None:
    with pytest.raises(InvalidInputError, match="'numpy>=>1'"):
        algorithms.deploy(package(dependencies='["numpy>=>1"]'), TENANT, stores, settings, builds)

    with pytest.raises(NotFoundError):
        stores.algorithms.resolve("with_deps", 1, TENANT)
    assert builds.started == []


def test_execute_on_a_building_version_is_not_ready(
    stores: Stores,
    settings: Settings,
    builds: RecordingBuilds,
    package: Callable[..., bytes],
    hdf5_file: Callable[..., bytes],
) -> None:
    version = algorithms.deploy(package(), TENANT, stores, settings, builds)

    with pytest.raises(NotReadyError, match="environment building") as refused:
        _execute(version.algorithm_id, stores, settings, hdf5_file())

    assert refused.value.code == "not_ready"


def test_execute_on_a_failed_version_names_pips_message(
    stores: Stores,
    settings: Settings,
    builds: RecordingBuilds,
    package: Callable[..., bytes],
    wheels: Path,
    hdf5_file: Callable[..., bytes],
) -> None:
    version = algorithms.deploy(
        package(dependencies='["stratus-missing>=1"]'), TENANT, stores, settings, builds
    )
    envs.build(builds.started[0][0], stores)

    with pytest.raises(EnvironmentFailedError, match="No matching distribution found for stratus-missing"):
        _execute(version.algorithm_id, stores, settings, hdf5_file())


def test_execute_on_a_ready_version_plans_its_environment(
    stores: Stores,
    settings: Settings,
    builds: RecordingBuilds,
    package: Callable[..., bytes],
    wheels: Path,
    hdf5_file: Callable[..., bytes],
) -> None:
    version = algorithms.deploy(package(), TENANT, stores, settings, builds)
    envs.build(builds.started[0][0], stores)

    execution_id = _execute(version.algorithm_id, stores, settings, hdf5_file())

    assert stores.executions.get(execution_id).plan.environment == version.environment
