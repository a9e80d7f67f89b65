"""AlgorithmStore: first and next deploys in one transaction, lookups by id, removing versions."""

from __future__ import annotations

import threading

import pytest
from stratus.errors import NotFoundError
from stratus.models.algorithms import AlgorithmVersionRecord
from stratus.stores import Stores
from stratus.stores.algorithms import FIRST_MINOR, AlgorithmStore


def _deploy(
    store: AlgorithmStore, clock, name: str = "threshold", description: str = "v"
) -> AlgorithmVersionRecord:
    def make(algorithm_id: str, minor: int) -> AlgorithmVersionRecord:
        return AlgorithmVersionRecord(
            algorithm_id=algorithm_id,
            name=name,
            major=1,
            minor=minor,
            code_key=f"algorithms/{name}/1/{minor}/code.zip",
            assets={"files/weights.bin": "ab" * 32},
            metadata={"description": description},
            created_at=clock(),
        )

    return store.register(name, 1, {"description": description}, make)


@pytest.fixture
def algorithms(stores: Stores) -> AlgorithmStore:
    return stores.algorithms


def test_register_first_deploy_creates_algorithm_and_version(algorithms: AlgorithmStore, clock) -> None:
    version = _deploy(algorithms, clock)

    record = algorithms.get("threshold", 1)
    assert (version.minor, record.latest_minor, record.minors) == (FIRST_MINOR, FIRST_MINOR, [FIRST_MINOR])
    assert algorithms.get_by_id(record.algorithm_id) == record
    assert algorithms.get_version("threshold", 1) == version


def test_register_again_adds_next_minor_and_updates_metadata(algorithms: AlgorithmStore, clock) -> None:
    first = _deploy(algorithms, clock, description="first")
    clock.advance(1)

    second = _deploy(algorithms, clock, description="second")

    record = algorithms.get("threshold", 1)
    assert second.algorithm_id == first.algorithm_id
    assert (second.minor, record.minors) == (first.minor + 1, [first.minor, second.minor])
    assert record.metadata == {"description": "second"}


def test_list_all_returns_every_algorithm(algorithms: AlgorithmStore, clock) -> None:
    _deploy(algorithms, clock, name="b")
    _deploy(algorithms, clock, name="a")

    assert [r.name for r in algorithms.list_all()] == ["a", "b"]


def test_remove_latest_version_restores_previous_metadata(algorithms: AlgorithmStore, clock) -> None:
    first = _deploy(algorithms, clock, description="first")
    second = _deploy(algorithms, clock, description="second")

    updated = algorithms.remove_version("threshold", 1, second.minor)

    assert updated is not None
    assert (updated.latest_minor, updated.minors, updated.metadata) == (
        first.minor,
        [first.minor],
        {"description": "first"},
    )
    assert algorithms.get_version("threshold", 1, first.minor) == first


def test_remove_last_version_removes_algorithm_and_alias(algorithms: AlgorithmStore, clock) -> None:
    version = _deploy(algorithms, clock)

    assert algorithms.remove_version("threshold", 1, version.minor) is None

    with pytest.raises(NotFoundError):
        algorithms.get("threshold", 1)
    with pytest.raises(NotFoundError):
        algorithms.get_by_id(version.algorithm_id)


def test_remove_unknown_minor_is_not_found(algorithms: AlgorithmStore, clock) -> None:
    _deploy(algorithms, clock)

    with pytest.raises(NotFoundError):
        algorithms.remove_version("threshold", 1, 7)


def test_racing_deploys_get_distinct_minor_versions(algorithms: AlgorithmStore, clock) -> None:
    _deploy(algorithms, clock)
    results: list[int] = []
    barrier = threading.Barrier(3)

    def deploy() -> None:
        barrier.wait()
        results.append(_deploy(algorithms, clock).minor)

    threads = [threading.Thread(target=deploy) for _ in range(3)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [1, 2, 3]
    assert algorithms.get("threshold", 1).minors == [0, 1, 2, 3]


def test_get_version_by_id_finds_pinned_and_latest_minor(algorithms: AlgorithmStore, clock) -> None:
    first = _deploy(algorithms, clock)
    second = _deploy(algorithms, clock, description="v2")

    assert algorithms.get_version_by_id(first.algorithm_id, FIRST_MINOR) == first
    assert algorithms.get_version_by_id(first.algorithm_id) == second


def test_get_version_by_id_rejects_unknown_id(algorithms: AlgorithmStore) -> None:
    with pytest.raises(NotFoundError):
        algorithms.get_version_by_id("no-such-algorithm")
