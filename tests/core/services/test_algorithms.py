"""Algorithm registry use cases: owners' namespaces, jobs resolving ids per tenant, and jobs holding the
version they run so it is not deleted under them (accept and delete racing: exactly one wins)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stratus.algorithms import package_from_folder
from stratus.errors import AlgorithmInUseError, ConflictError, ForbiddenError, NotFoundError, StratusError
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.executions import ExecutionCreate
from stratus.models.jobs import JobError, TaskFailure
from stratus.services import algorithms, executions, files, jobs, launch
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.builtins import builtin_zip
from tests.core.services.test_jobs import FakeMachine

PACKAGES = Path(__file__).resolve().parents[1] / "algorithms" / "packages"
TENANT = "local"
OTHER = "acme"
RACES = 8


@pytest.fixture
def scale_zip() -> bytes:
    return package_from_folder(PACKAGES / "compox_scale")


@pytest.fixture
def own_id(stores: Stores, settings: Settings, scale_zip: bytes) -> str:
    return algorithms.deploy(scale_zip, TENANT, stores, settings).algorithm_id


@pytest.fixture
def input_id(stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]) -> str:
    return files.store_ready(hdf5_file(), TENANT, stores, settings).file_id


@pytest.fixture
def machine() -> FakeMachine:
    return FakeMachine()


def _execute(stores: Stores, machine: FakeMachine, algorithm_id: str, input_id: str) -> str:
    request = ExecutionCreate(algorithm_id=algorithm_id, input_dataset_ids=[input_id])
    return launch.execute(request, TENANT, stores, machine)


def _fail(stores: Stores, execution_id: str) -> None:
    executions.mark_failed(execution_id, TaskFailure(Error="States.TaskFailed", Cause="test"), stores)


# owners


def test_deploy_of_one_package_by_two_tenants_makes_two_algorithms(
    stores: Stores, settings: Settings, scale_zip: bytes
) -> None:
    own = algorithms.deploy(scale_zip, TENANT, stores, settings)

    other = algorithms.deploy(scale_zip, OTHER, stores, settings)

    assert own.algorithm_id != other.algorithm_id
    assert (own.minor, other.minor) == (0, 0)
    assert own.code_key != other.code_key


def test_deploy_under_a_builtins_name_leaves_the_builtin_unchanged(
    stores: Stores, settings: Settings
) -> None:
    builtin = algorithms.deploy(builtin_zip("threshold"), BUILTIN_OWNER, stores, settings)

    own = algorithms.deploy(builtin_zip("threshold"), TENANT, stores, settings)

    assert own.algorithm_id != builtin.algorithm_id
    assert stores.algorithms.get(BUILTIN_OWNER, "threshold", 1).minors == [builtin.minor]


def test_remove_refuses_a_builtin_even_one_its_package_calls_removable(
    stores: Stores, settings: Settings, scale_zip: bytes
) -> None:
    builtin = algorithms.deploy(scale_zip, BUILTIN_OWNER, stores, settings)

    with pytest.raises(ForbiddenError, match="built-in"):
        algorithms.remove(builtin.algorithm_id, None, TENANT, stores)

    assert stores.algorithms.get_by_id(builtin.algorithm_id, TENANT).minors == [builtin.minor]


def test_remove_of_another_tenants_algorithm_is_not_found(stores: Stores, own_id: str) -> None:
    with pytest.raises(NotFoundError):
        algorithms.remove(own_id, None, OTHER, stores)

    assert stores.algorithms.get_by_id(own_id, TENANT)


def test_plan_job_finds_a_builtin_and_own_but_not_another_tenants(
    stores: Stores, settings: Settings, own_id: str
) -> None:
    builtin = algorithms.deploy(builtin_zip("threshold"), BUILTIN_OWNER, stores, settings)

    assert jobs.plan_job(builtin.algorithm_id, None, None, {}, None, OTHER, stores)[0].algorithm_owner == (
        BUILTIN_OWNER
    )
    assert jobs.plan_job(own_id, None, None, {}, None, TENANT, stores)[0].algorithm_owner == TENANT
    with pytest.raises(NotFoundError):
        jobs.plan_job(own_id, None, None, {}, None, OTHER, stores)


# holds


def test_execute_holds_its_own_version_and_not_a_builtin(
    stores: Stores, settings: Settings, machine: FakeMachine, own_id: str, input_id: str
) -> None:
    builtin = algorithms.deploy(builtin_zip("threshold"), BUILTIN_OWNER, stores, settings)

    own_run = _execute(stores, machine, own_id, input_id)
    _execute(stores, machine, builtin.algorithm_id, input_id)

    assert stores.algorithms.holders(own_id) == {0: {f"execution#{own_run}"}}
    assert stores.algorithms.holders(builtin.algorithm_id) == {}


def test_remove_refuses_a_version_a_pending_execution_runs(
    stores: Stores, machine: FakeMachine, own_id: str, input_id: str
) -> None:
    execution_id = _execute(stores, machine, own_id, input_id)

    with pytest.raises(AlgorithmInUseError, match=execution_id):
        algorithms.remove(own_id, 0, TENANT, stores)

    assert stores.algorithms.get_by_id(own_id, TENANT).minors == [0]


def test_remove_succeeds_once_the_execution_has_ended(
    stores: Stores, machine: FakeMachine, own_id: str, input_id: str
) -> None:
    execution_id = _execute(stores, machine, own_id, input_id)
    _fail(stores, execution_id)

    algorithms.remove(own_id, 0, TENANT, stores)

    with pytest.raises(NotFoundError):
        stores.algorithms.get_by_id(own_id, TENANT)


def test_remove_drops_a_hold_whose_release_was_lost(
    stores: Stores, machine: FakeMachine, own_id: str, input_id: str
) -> None:
    execution_id = _execute(stores, machine, own_id, input_id)
    stores.executions.fail(execution_id, JobError(type="Lost", message="ended without its release"))

    algorithms.remove(own_id, None, TENANT, stores)

    with pytest.raises(NotFoundError):
        stores.algorithms.get_by_id(own_id, TENANT)


def test_stop_releases_the_version(stores: Stores, machine: FakeMachine, own_id: str, input_id: str) -> None:
    execution_id = _execute(stores, machine, own_id, input_id)

    launch.stop(execution_id, TENANT, stores, machine)

    assert stores.algorithms.holders(own_id) == {}


def test_a_run_that_does_not_start_releases_the_version(stores: Stores, own_id: str, input_id: str) -> None:
    with pytest.raises(RuntimeError):
        _execute(stores, FakeMachine(RuntimeError("no run")), own_id, input_id)

    assert stores.algorithms.holders(own_id) == {}


def test_accept_of_a_version_deleted_since_its_plan_stores_nothing(
    stores: Stores, machine: FakeMachine, own_id: str, input_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_job = jobs.plan_job

    def plan_then_delete(*args: Any, **kwargs: Any) -> Any:  # the delete lands between read and accept
        planned = plan_job(*args, **kwargs)
        algorithms.remove(own_id, None, TENANT, stores)
        return planned

    monkeypatch.setattr(jobs, "plan_job", plan_then_delete)

    with pytest.raises(NotFoundError, match="was deleted"):
        _execute(stores, machine, own_id, input_id)

    assert stores.executions.list_recent(TENANT, 10, None)[0] == []
    assert stores.files.get(input_id).held_by == set()
    assert machine.started == []


def _race(stores: Stores, machine: FakeMachine, algorithm_id: str, input_id: str) -> dict[str, Any]:
    """An execute and a remove of the same algorithm started together: each one's result or error."""
    outcomes: dict[str, Any] = {}
    barrier = threading.Barrier(2)
    actions: dict[str, Callable[[], Any]] = {
        "execute": lambda: _execute(stores, machine, algorithm_id, input_id),
        "remove": lambda: algorithms.remove(algorithm_id, None, TENANT, stores),
    }

    def run(name: str) -> None:
        barrier.wait()
        try:
            outcomes[name] = actions[name]()
        except StratusError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_accept_and_remove_racing_never_both_win(
    stores: Stores, settings: Settings, machine: FakeMachine, scale_zip: bytes, input_id: str
) -> None:
    for _ in range(RACES):
        algorithm_id = algorithms.deploy(scale_zip, TENANT, stores, settings).algorithm_id
        before = len(stores.executions.list_recent(TENANT, 100, None)[0])

        outcomes = _race(stores, machine, algorithm_id, input_id)

        executed, removed = outcomes["execute"], outcomes["remove"]
        assert not (isinstance(executed, str) and removed is None), outcomes
        if isinstance(executed, str):
            assert isinstance(removed, AlgorithmInUseError | ConflictError), outcomes
            assert stores.algorithms.holders(algorithm_id) == {0: {f"execution#{executed}"}}
            _fail(stores, executed)
            algorithms.remove(algorithm_id, None, TENANT, stores)
        else:
            assert isinstance(executed, NotFoundError | ConflictError), outcomes
            assert len(stores.executions.list_recent(TENANT, 100, None)[0]) == before
