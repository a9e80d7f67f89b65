"""FileStore: conditional creates and transitions, expiry on read, tenant scoping, cursor pages."""

from __future__ import annotations

import threading
import uuid

import pytest
from stratus.errors import AlreadyExistsError, IllegalTransitionError, InvalidInputError, NotFoundError
from stratus.models import FileRecord, FileStatus
from stratus.stores import Stores

LIFETIME = 86_400


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
