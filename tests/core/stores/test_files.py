"""FileStore: conditional creates and transitions, expiry on read, tenant scoping, batched reads, cursor
pages, hold writes, releases and deletes of unheld files."""

from __future__ import annotations

import threading
import uuid

import boto3
import pytest
from boto3.dynamodb.conditions import Attr
from stratus.errors import (
    AlreadyExistsError,
    FileInUseError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
)
from stratus.models import FileRecord, FileStatus
from stratus.settings import Settings
from stratus.stores import Stores
from stratus.stores.base import record_key

LIFETIME = 86_400
CEILING = 2 * 86_400


def _record(clock_now: float, status: FileStatus = FileStatus.PENDING, tenant: str = "t1") -> FileRecord:
    file_id = str(uuid.uuid4())
    return FileRecord(
        file_id=file_id,
        tenant=tenant,
        status=status,
        s3_key=f"uploads/{file_id}",
        created_at=clock_now,
        expires_at=int(clock_now) + LIFETIME,
    )


def test_create_then_get_round_trips(stores: Stores, clock) -> None:
    record = _record(clock())

    stores.files.create(record)

    assert stores.files.get(record.file_id, "t1") == record


def test_create_rejects_duplicate_id(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)

    with pytest.raises(AlreadyExistsError):
        stores.files.create(record)


def test_get_treats_expired_file_as_absent(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)

    clock.advance(LIFETIME)

    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id)


def test_get_hides_other_tenants_file(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)

    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id, "someone-else")


def test_mark_ready_moves_pending_to_ready(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)

    ready = stores.files.mark_ready(record.file_id, 123, int(clock()) + 10)

    assert (ready.status, ready.size, ready.expires_at) == (FileStatus.READY, 123, int(clock()) + 10)


def test_mark_ready_rejects_rejected_file(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)
    stores.files.mark_rejected(record.file_id, "bad")

    with pytest.raises(IllegalTransitionError):
        stores.files.mark_ready(record.file_id, 1, int(clock()) + 10)


def test_mark_ready_on_expired_file_is_not_found(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)
    clock.advance(LIFETIME + 1)

    with pytest.raises(NotFoundError):
        stores.files.mark_ready(record.file_id, 1, int(clock()) + 10)


def test_racing_transitions_have_exactly_one_winner(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def ready() -> None:
        barrier.wait()
        try:
            stores.files.mark_ready(record.file_id, 1, int(clock()) + 10)
            outcomes.append("ready")
        except IllegalTransitionError:
            outcomes.append("lost")

    def reject() -> None:
        barrier.wait()
        try:
            stores.files.mark_rejected(record.file_id, "bad")
            outcomes.append("rejected")
        except IllegalTransitionError:
            outcomes.append("lost")

    threads = [threading.Thread(target=ready), threading.Thread(target=reject)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes).count("lost") == 1
    assert stores.files.get(record.file_id).status in {FileStatus.READY, FileStatus.REJECTED}


def test_delete_removes_file_and_returns_it(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)

    deleted = stores.files.delete(record.file_id, "t1")

    assert deleted.file_id == record.file_id
    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id)


def test_delete_refuses_other_tenant(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)

    with pytest.raises(NotFoundError):
        stores.files.delete(record.file_id, "someone-else")
    assert stores.files.get(record.file_id).file_id == record.file_id


def test_delete_with_failing_condition_is_not_found_and_keeps_file(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)

    with pytest.raises(NotFoundError):
        stores.files.delete(record.file_id, "t1", Attr("status").eq(FileStatus.READY.value))
    assert stores.files.get(record.file_id) == record


def test_get_many_reads_live_files_of_the_tenant(stores: Stores, clock) -> None:
    old = _record(clock())
    stores.files.create(old)
    clock.advance(LIFETIME - 10)
    fresh, foreign = _record(clock()), _record(clock(), tenant="someone-else")
    stores.files.create(fresh)
    stores.files.create(foreign)
    clock.advance(20)
    missing = str(uuid.uuid4())

    found = stores.files.get_many([fresh.file_id, old.file_id, foreign.file_id, missing, fresh.file_id], "t1")

    assert found == {fresh.file_id: fresh}


def test_get_many_reads_more_than_one_batch(stores: Stores, clock) -> None:
    records = [_record(clock()) for _ in range(130)]
    for record in records:
        stores.files.create(record)

    found = stores.files.get_many([r.file_id for r in records], "t1")

    assert found == {r.file_id: r for r in records}


def test_list_recent_pages_newest_first_with_cursor(stores: Stores, clock) -> None:
    created = []
    for _ in range(5):
        record = _record(clock())
        stores.files.create(record)
        created.append(record.file_id)
        clock.advance(1)

    first, cursor = stores.files.list_recent("t1", 2, None)
    second, cursor2 = stores.files.list_recent("t1", 2, cursor)
    third, cursor3 = stores.files.list_recent("t1", 2, cursor2)

    listed = [r.file_id for r in first + second + third]
    assert listed == list(reversed(created))
    assert cursor3 is None or stores.files.list_recent("t1", 2, cursor3)[0] == []


def test_list_recent_drops_expired_files(stores: Stores, clock) -> None:
    old = _record(clock())
    stores.files.create(old)
    clock.advance(LIFETIME - 10)
    fresh = _record(clock())
    stores.files.create(fresh)
    clock.advance(20)

    items, _ = stores.files.list_recent("t1", 10, None)

    assert [r.file_id for r in items] == [fresh.file_id]


def test_list_recent_filters_by_status(stores: Stores, clock) -> None:
    pending = _record(clock())
    ready = _record(clock(), FileStatus.READY)
    stores.files.create(pending)
    stores.files.create(ready)

    items, _ = stores.files.list_recent("t1", 10, None, FileStatus.READY)

    assert [r.file_id for r in items] == [ready.file_id]


@pytest.mark.parametrize("cursor", ["garbage!!", "eyJnc2kxcGsiOiJmaWxlI3QyIn0"])
def test_list_recent_rejects_foreign_cursor(stores: Stores, cursor: str) -> None:
    with pytest.raises(InvalidInputError):
        stores.files.list_recent("t1", 10, cursor)


def _ready(stores: Stores, clock, lifetime: int = LIFETIME) -> FileRecord:
    record = _record(clock(), FileStatus.READY).model_copy(update={"expires_at": int(clock()) + lifetime})
    stores.files.create(record)
    return record


def _hold(stores: Stores, file_id: str, holder: str, until: int) -> FileRecord:
    """Hold a file as the services do: read it, write the hold on that read's guess, and read again
    when the guess was wrong (another hold moved the expiry in between)."""
    for _ in range(20):
        record = stores.files.get(file_id)
        if stores.files.transact([stores.files.hold_write(record, holder, until)]) is None:
            return stores.files.get(file_id)
    pytest.fail(f"the hold of {file_id} by {holder} kept failing")


def test_hold_keeps_file_live_past_its_own_expiry(stores: Stores, clock) -> None:
    record = _ready(stores, clock)

    until = int(clock()) + CEILING

    held = _hold(stores, record.file_id, "e1", until)
    clock.advance(LIFETIME + 1)

    assert stores.files.get(record.file_id) == held
    assert (held.held_by, held.expires_at, held.own_expires_at) == ({"e1"}, until, record.expires_at)


def test_hold_leaves_a_later_own_expiry_alone(stores: Stores, clock) -> None:
    record = _ready(stores, clock, lifetime=10 * 86_400)

    held = _hold(stores, record.file_id, "e1", int(clock()) + CEILING)

    assert (held.expires_at, held.own_expires_at, held.held_by) == (
        record.expires_at,
        record.expires_at,
        {"e1"},
    )


def test_hold_is_bounded_by_its_ceiling(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    _hold(stores, record.file_id, "e1", int(clock()) + CEILING)

    clock.advance(CEILING)

    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id)


def test_hold_twice_by_one_execution_is_one_hold(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    first = _hold(stores, record.file_id, "e1", int(clock()) + CEILING)

    again = _hold(stores, record.file_id, "e1", int(clock()) + CEILING)

    assert again == first


def test_hold_by_second_execution_keeps_first_own_expiry(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    _hold(stores, record.file_id, "e1", int(clock()) + CEILING)
    clock.advance(3600)

    held = _hold(stores, record.file_id, "e2", int(clock()) + CEILING)

    assert held.held_by == {"e1", "e2"}
    assert (held.own_expires_at, held.expires_at) == (record.expires_at, int(clock()) + CEILING)


def test_hold_on_a_stale_read_fails_rather_than_shorten_the_expiry(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    later = _hold(stores, record.file_id, "e2", int(clock()) + CEILING + 3600)

    # Read before e2's hold: guesses that the hold moves the expiry out, to before where e2 put it.
    reasons = stores.files.transact([stores.files.hold_write(record, "e1", int(clock()) + CEILING)])

    assert reasons == ["ConditionalCheckFailed"]
    assert stores.files.get(record.file_id) == later


@pytest.mark.parametrize("gone", ["expired", "deleted"])
def test_hold_rejects_file_that_is_gone(stores: Stores, settings: Settings, clock, gone: str) -> None:
    record = _ready(stores, clock)
    if gone == "expired":
        clock.advance(LIFETIME)
    else:
        stores.files.delete(record.file_id, "t1")

    reasons = stores.files.transact([stores.files.hold_write(record, "e1", int(clock()) + CEILING)])

    assert reasons == ["ConditionalCheckFailed"]
    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id)
    if gone == "deleted":
        table = boto3.resource("dynamodb").Table(settings.table_name)
        assert "Item" not in table.get_item(Key=record_key("file", record.file_id))  # nothing created


def test_hold_rejects_file_that_is_not_ready(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.files.create(record)

    reasons = stores.files.transact([stores.files.hold_write(record, "e1", int(clock()) + CEILING)])

    assert reasons == ["ConditionalCheckFailed"]
    assert stores.files.get(record.file_id) == record


def test_hold_rejects_file_of_another_tenant(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    forged = record.model_copy(update={"tenant": "someone-else"})

    reasons = stores.files.transact([stores.files.hold_write(forged, "e1", int(clock()) + CEILING)])

    assert reasons == ["ConditionalCheckFailed"]
    assert stores.files.get(record.file_id) == record


def test_release_by_last_holder_restores_own_expiry(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    _hold(stores, record.file_id, "e1", int(clock()) + CEILING)

    released = stores.files.release(record.file_id, "e1")

    assert released == record
    assert stores.files.get(record.file_id) == record


def test_release_keeps_file_held_by_another_execution(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    _hold(stores, record.file_id, "e1", int(clock()) + CEILING)
    _hold(stores, record.file_id, "e2", int(clock()) + CEILING)

    released = stores.files.release(record.file_id, "e1")
    clock.advance(LIFETIME + 1)

    assert released is not None and released.held_by == {"e2"}
    assert stores.files.get(record.file_id).own_expires_at == record.expires_at


def test_release_twice_is_harmless(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    _hold(stores, record.file_id, "e1", int(clock()) + CEILING)
    _hold(stores, record.file_id, "e2", int(clock()) + CEILING)
    first = stores.files.release(record.file_id, "e1")

    again = stores.files.release(record.file_id, "e1")

    assert again is None
    assert stores.files.get(record.file_id) == first


def test_release_after_own_expiry_lets_file_expire_at_once(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    _hold(stores, record.file_id, "e1", int(clock()) + CEILING)
    clock.advance(LIFETIME + 1)

    stores.files.release(record.file_id, "e1")

    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id)


def test_release_of_deleted_file_is_a_no_op(stores: Stores, settings: Settings, clock) -> None:
    record = _ready(stores, clock)
    stores.files.delete(record.file_id, "t1")

    released = stores.files.release(record.file_id, "e1")

    assert released is None
    table = boto3.resource("dynamodb").Table(settings.table_name)
    # The failed write created nothing.
    assert "Item" not in table.get_item(Key=record_key("file", record.file_id))


def test_concurrent_holds_lose_no_holder(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    holders = [f"e{i}" for i in range(8)]
    until = int(clock()) + CEILING
    barrier = threading.Barrier(len(holders))

    def hold(holder: str) -> None:
        barrier.wait()
        _hold(stores, record.file_id, holder, until)

    threads = [threading.Thread(target=hold, args=(h,)) for h in holders]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    held = stores.files.get(record.file_id)
    assert (held.held_by, held.expires_at, held.own_expires_at) == (set(holders), until, record.expires_at)


@pytest.mark.parametrize("keeper", [True, False], ids=["another-holder-stays", "all-leave"])
def test_concurrent_holds_and_releases_end_consistent(stores: Stores, clock, keeper: bool) -> None:
    record = _ready(stores, clock)
    holders = [f"e{i}" for i in range(8)]
    until = int(clock()) + CEILING
    if keeper:
        _hold(stores, record.file_id, "keeper", until)
    barrier = threading.Barrier(len(holders))

    def hold_then_release(holder: str) -> None:
        barrier.wait()
        _hold(stores, record.file_id, holder, until)
        stores.files.release(record.file_id, holder)

    threads = [threading.Thread(target=hold_then_release, args=(h,)) for h in holders]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    if keeper:
        assert stores.files.get(record.file_id).held_by == {"keeper"}
        stores.files.release(record.file_id, "keeper")
    assert stores.files.get(record.file_id) == record


def test_delete_unheld_removes_unheld_file(stores: Stores, clock) -> None:
    record = _ready(stores, clock)

    deleted = stores.files.delete_unheld(record.file_id, "t1")

    assert deleted == record
    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id)


def test_delete_unheld_refuses_held_file_naming_its_holders(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    _hold(stores, record.file_id, "execution#e1", int(clock()) + CEILING)
    _hold(stores, record.file_id, "sample#s1", int(clock()) + CEILING)

    with pytest.raises(FileInUseError, match="execution e1, sample s1"):
        stores.files.delete_unheld(record.file_id, "t1")
    assert stores.files.get(record.file_id).held_by == {"execution#e1", "sample#s1"}


def test_delete_unheld_of_released_file_succeeds(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    _hold(stores, record.file_id, "e1", int(clock()) + CEILING)
    stores.files.release(record.file_id, "e1")

    assert stores.files.delete_unheld(record.file_id, "t1") == record


def test_delete_unheld_of_held_file_hides_it_from_other_tenant(stores: Stores, clock) -> None:
    record = _ready(stores, clock)
    _hold(stores, record.file_id, "e1", int(clock()) + CEILING)

    with pytest.raises(NotFoundError):
        stores.files.delete_unheld(record.file_id, "someone-else")


@pytest.mark.parametrize("gone", ["expired", "missing"])
def test_delete_unheld_of_file_that_is_gone_is_not_found(stores: Stores, clock, gone: str) -> None:
    record = _ready(stores, clock)
    if gone == "expired":
        clock.advance(LIFETIME)
    file_id = record.file_id if gone == "expired" else str(uuid.uuid4())

    with pytest.raises(NotFoundError):
        stores.files.delete_unheld(file_id, "t1")
