"""AlgorithmStore: first and next deploys in one transaction, owners' namespaces, lookups by name and id,
holds on versions, removing versions."""

from __future__ import annotations

import threading

import pytest
from stratus.auth import TENANT_PATTERN
from stratus.errors import AlgorithmInUseError, NotFoundError
from stratus.models.algorithms import BUILTIN_OWNER, AlgorithmVersionRecord
from stratus.stores import Stores
from stratus.stores.algorithms import FIRST_MINOR, MAX_VERSIONS_PER_REMOVAL, AlgorithmStore

TENANT = "local"
OTHER = "acme"


def _deploy(
    store: AlgorithmStore,
    clock,
    name: str = "threshold",
    description: str = "v",
    owner: str = TENANT,
) -> AlgorithmVersionRecord:
    def make(algorithm_id: str, minor: int) -> AlgorithmVersionRecord:
        return AlgorithmVersionRecord(
            algorithm_id=algorithm_id,
            owner=owner,
            name=name,
            major=1,
            minor=minor,
            code_key=f"algorithms/{owner}/{name}/1/{minor}/code.zip",
            assets={"files/weights.bin": "ab" * 32},
            metadata={"description": description},
            created_at=clock(),
        )

    return store.register(owner, name, 1, {"description": description}, make)


@pytest.fixture
def algorithms(stores: Stores) -> AlgorithmStore:
    return stores.algorithms


def test_builtin_owner_can_never_be_a_tenant() -> None:
    assert not TENANT_PATTERN.match(BUILTIN_OWNER)


def test_register_first_deploy_creates_algorithm_and_version(algorithms: AlgorithmStore, clock) -> None:
    version = _deploy(algorithms, clock)

    record = algorithms.get(TENANT, "threshold", 1)
    assert (version.minor, record.latest_minor, record.minors) == (FIRST_MINOR, FIRST_MINOR, [FIRST_MINOR])
    assert record.owner == version.owner == TENANT
    assert algorithms.get_by_id(record.algorithm_id, TENANT) == record
    assert algorithms.get_version_by_id(record.algorithm_id, TENANT) == version


def test_register_again_adds_next_minor_and_updates_metadata(algorithms: AlgorithmStore, clock) -> None:
    first = _deploy(algorithms, clock, description="first")
    clock.advance(1)

    second = _deploy(algorithms, clock, description="second")

    record = algorithms.get(TENANT, "threshold", 1)
    assert second.algorithm_id == first.algorithm_id
    assert (second.minor, record.minors) == (first.minor + 1, [first.minor, second.minor])
    assert record.metadata == {"description": "second"}


def test_register_same_name_for_two_owners_makes_two_algorithms(algorithms: AlgorithmStore, clock) -> None:
    builtin = _deploy(algorithms, clock, owner=BUILTIN_OWNER)

    own = _deploy(algorithms, clock, owner=TENANT)
    other = _deploy(algorithms, clock, owner=OTHER)

    assert len({builtin.algorithm_id, own.algorithm_id, other.algorithm_id}) == 3
    assert (builtin.minor, own.minor, other.minor) == (FIRST_MINOR, FIRST_MINOR, FIRST_MINOR)
    assert algorithms.get(BUILTIN_OWNER, "threshold", 1).minors == [FIRST_MINOR]


def test_resolve_prefers_own_algorithm_over_builtin(algorithms: AlgorithmStore, clock) -> None:
    builtin = _deploy(algorithms, clock, owner=BUILTIN_OWNER)
    own = _deploy(algorithms, clock, owner=TENANT)

    assert algorithms.resolve("threshold", 1, TENANT).algorithm_id == own.algorithm_id
    assert algorithms.resolve("threshold", 1, OTHER).algorithm_id == builtin.algorithm_id


def test_resolve_never_finds_another_tenants_algorithm(algorithms: AlgorithmStore, clock) -> None:
    _deploy(algorithms, clock, owner=OTHER)

    with pytest.raises(NotFoundError):
        algorithms.resolve("threshold", 1, TENANT)


def test_lookups_by_id_find_builtin_and_own_but_not_another_tenants(
    algorithms: AlgorithmStore, clock
) -> None:
    builtin = _deploy(algorithms, clock, name="b", owner=BUILTIN_OWNER)
    other = _deploy(algorithms, clock, name="o", owner=OTHER)

    assert algorithms.get_by_id(builtin.algorithm_id, TENANT).owner == BUILTIN_OWNER
    assert algorithms.get_version_by_id(builtin.algorithm_id, TENANT) == builtin
    with pytest.raises(NotFoundError, match="not found"):
        algorithms.get_by_id(other.algorithm_id, TENANT)
    with pytest.raises(NotFoundError, match="not found"):
        algorithms.get_version_by_id(other.algorithm_id, TENANT)
    with pytest.raises(NotFoundError, match="not found"):
        algorithms.get_version_by_id(other.algorithm_id, TENANT, FIRST_MINOR)


def test_list_visible_returns_builtins_and_own_by_name(algorithms: AlgorithmStore, clock) -> None:
    _deploy(algorithms, clock, name="b", owner=TENANT)
    _deploy(algorithms, clock, name="a", owner=BUILTIN_OWNER)
    _deploy(algorithms, clock, name="b", owner=BUILTIN_OWNER)
    _deploy(algorithms, clock, name="c", owner=OTHER)

    listed = [(r.name, r.owner) for r in algorithms.list_visible(TENANT)]

    assert listed == [("a", BUILTIN_OWNER), ("b", TENANT), ("b", BUILTIN_OWNER)]


def test_remove_latest_version_restores_previous_metadata(algorithms: AlgorithmStore, clock) -> None:
    first = _deploy(algorithms, clock, description="first")
    _deploy(algorithms, clock, description="second")
    record = algorithms.get(TENANT, "threshold", 1)

    updated = algorithms.remove_versions(record, [record.latest_minor])

    assert updated is not None
    assert (updated.latest_minor, updated.minors, updated.metadata) == (
        first.minor,
        [first.minor],
        {"description": "first"},
    )
    assert algorithms.get_version_by_id(first.algorithm_id, TENANT, first.minor) == first


def test_remove_last_version_removes_algorithm_and_alias(algorithms: AlgorithmStore, clock) -> None:
    version = _deploy(algorithms, clock)

    assert algorithms.remove_versions(algorithms.get(TENANT, "threshold", 1), [version.minor]) is None

    with pytest.raises(NotFoundError):
        algorithms.get(TENANT, "threshold", 1)
    with pytest.raises(NotFoundError):
        algorithms.get_by_id(version.algorithm_id, TENANT)


def test_remove_unknown_minor_is_not_found(algorithms: AlgorithmStore, clock) -> None:
    _deploy(algorithms, clock)

    with pytest.raises(NotFoundError):
        algorithms.remove_versions(algorithms.get(TENANT, "threshold", 1), [7])


def test_remove_more_versions_than_one_transaction_holds(algorithms: AlgorithmStore, clock) -> None:
    for _ in range(MAX_VERSIONS_PER_REMOVAL + 2):
        version = _deploy(algorithms, clock)
    record = algorithms.get(TENANT, "threshold", 1)

    assert algorithms.remove_versions(record, record.minors) is None

    with pytest.raises(NotFoundError):
        algorithms.get_version_by_id(version.algorithm_id, TENANT)


def test_remove_refuses_a_held_version_and_keeps_the_others(algorithms: AlgorithmStore, clock) -> None:
    version = _deploy(algorithms, clock)
    _deploy(algorithms, clock, description="second")
    assert (
        algorithms.transact([algorithms.hold_write(version.algorithm_id, version.minor, "execution#e1")])
        is None
    )
    record = algorithms.get(TENANT, "threshold", 1)

    with pytest.raises(AlgorithmInUseError, match="execution e1"):
        algorithms.remove_versions(record, record.minors)

    assert algorithms.get(TENANT, "threshold", 1).minors == record.minors


def test_release_makes_a_version_removable_again(algorithms: AlgorithmStore, clock) -> None:
    version = _deploy(algorithms, clock)
    algorithms.transact([algorithms.hold_write(version.algorithm_id, version.minor, "execution#e1")])

    algorithms.release(version.algorithm_id, version.minor, "execution#e1")
    algorithms.release(version.algorithm_id, version.minor, "execution#e1")  # idempotent

    assert algorithms.holders(version.algorithm_id) == {}
    assert algorithms.remove_versions(algorithms.get(TENANT, "threshold", 1), [version.minor]) is None


def test_hold_of_a_removed_version_fails_and_creates_nothing(algorithms: AlgorithmStore, clock) -> None:
    version = _deploy(algorithms, clock)
    algorithms.remove_versions(algorithms.get(TENANT, "threshold", 1), [version.minor])

    reasons = algorithms.transact(
        [algorithms.hold_write(version.algorithm_id, version.minor, "execution#e1")]
    )

    assert reasons == ["ConditionalCheckFailed"]
    assert algorithms.holders(version.algorithm_id) == {}


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
    assert algorithms.get(TENANT, "threshold", 1).minors == [0, 1, 2, 3]


def test_get_version_by_id_finds_pinned_and_latest_minor(algorithms: AlgorithmStore, clock) -> None:
    first = _deploy(algorithms, clock)
    second = _deploy(algorithms, clock, description="v2")

    assert algorithms.get_version_by_id(first.algorithm_id, TENANT, FIRST_MINOR) == first
    assert algorithms.get_version_by_id(first.algorithm_id, TENANT) == second


def test_get_version_by_id_names_a_missing_minor_of_a_visible_algorithm(
    algorithms: AlgorithmStore, clock
) -> None:
    version = _deploy(algorithms, clock)

    with pytest.raises(NotFoundError, match="no minor version 7"):
        algorithms.get_version_by_id(version.algorithm_id, TENANT, 7)


def test_get_version_by_id_rejects_unknown_id(algorithms: AlgorithmStore) -> None:
    with pytest.raises(NotFoundError):
        algorithms.get_version_by_id("no-such-algorithm", TENANT)
