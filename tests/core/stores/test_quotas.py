"""QuotaStore: a tenant's queued, running and waiting members in one item; waiting entries follow their
members (noted only while queued, dropped by a release or a granted slot, reordered in place)."""

from __future__ import annotations

import pytest
from stratus.models.jobs import MAX_PRIORITY, MIN_PRIORITY
from stratus.stores import Stores
from stratus.stores.quotas import Waiting, waiting_order

from tests.conftest import MovableClock

TENANT = "local"
MEMBER = "execution#1"


def _admit(stores: Stores, member: str = MEMBER) -> None:
    assert stores.quotas.transact([stores.quotas.admit_write(TENANT, member)]) is None


def test_waiting_order_sorts_higher_priority_first_then_older() -> None:
    keys = [
        waiting_order(0, 200.0),
        waiting_order(MAX_PRIORITY, 300.0),
        waiting_order(0, 100.0),
        waiting_order(MIN_PRIORITY, 50.0),
    ]

    ordered = sorted(keys)

    assert ordered == [keys[1], keys[2], keys[0], keys[3]]


def test_wait_notes_a_queued_member_with_its_order_and_time(stores: Stores, clock: MovableClock) -> None:
    _admit(stores)

    stores.quotas.wait(TENANT, MEMBER, "100#1")

    assert stores.quotas.usage(TENANT).waiting == {MEMBER: Waiting(order="100#1", seen=int(clock()))}


def test_wait_ignores_a_member_no_longer_queued(stores: Stores) -> None:
    _admit(stores)
    stores.quotas.release(TENANT, [MEMBER])

    stores.quotas.wait(TENANT, MEMBER, "100#1")

    assert stores.quotas.usage(TENANT).waiting == {}


def test_start_running_ends_the_wait(stores: Stores) -> None:
    _admit(stores)
    stores.quotas.wait(TENANT, MEMBER, "100#1")

    assert stores.quotas.start_running(TENANT, MEMBER)

    usage = stores.quotas.usage(TENANT)
    assert (usage.running, usage.waiting) == ({MEMBER}, {})


def test_release_drops_waiting_entries(stores: Stores) -> None:
    _admit(stores)
    _admit(stores, "training#2")
    stores.quotas.wait(TENANT, MEMBER, "100#1")

    stores.quotas.release(TENANT, [MEMBER, "training#2"])

    assert stores.quotas.usage(TENANT) == type(stores.quotas.usage(TENANT))()


def test_release_works_on_a_tenant_without_quota_item(stores: Stores) -> None:
    stores.quotas.release("nobody", [MEMBER])

    assert stores.quotas.usage("nobody").queued == set()


@pytest.mark.parametrize("waiting", [True, False])
def test_reorder_moves_only_a_waiting_member(stores: Stores, waiting: bool) -> None:
    _admit(stores)
    if waiting:
        stores.quotas.wait(TENANT, MEMBER, "100#1")

    stores.quotas.reorder(TENANT, MEMBER, "050#1")

    entries = stores.quotas.usage(TENANT).waiting
    assert [e.order for e in entries.values()] == (["050#1"] if waiting else [])


def test_forget_waiting_keeps_the_member_queued(stores: Stores) -> None:
    _admit(stores)
    stores.quotas.wait(TENANT, MEMBER, "100#1")

    stores.quotas.forget_waiting(TENANT, [MEMBER])

    usage = stores.quotas.usage(TENANT)
    assert (usage.queued, usage.waiting) == ({MEMBER}, {})
