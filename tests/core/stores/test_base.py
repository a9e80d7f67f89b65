"""What every record store shares, seen through FileStore and ExecutionStore: cursor pages bound to their
own listing, and DynamoDB's refusals of what a client sent answered as the client's mistake."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from stratus import aws
from stratus.errors import InvalidCursorError, InvalidInputError
from stratus.models import FileRecord, FileStatus
from stratus.settings import Settings
from stratus.stores import FileStore, Stores
from stratus.stores.base import listing_partition

from tests.conftest import MovableClock

LIFETIME = 86_400


def _file(clock: MovableClock, tenant: str) -> FileRecord:
    file_id = str(uuid.uuid4())
    return FileRecord(
        file_id=file_id,
        tenant=tenant,
        status=FileStatus.READY,
        s3_key=f"files/{file_id}",
        created_at=clock(),
        expires_at=int(clock()) + LIFETIME,
    )


def _cursor_of(stores: Stores, clock: MovableClock, tenant: str) -> str:
    """A real next-page cursor of ``tenant``'s file listing."""
    for _ in range(2):
        stores.files.create(_file(clock, tenant))
        clock.advance(1)
    _, cursor = stores.files.list_recent(tenant, 1, None)
    assert cursor is not None
    return cursor


def test_list_recent_refuses_another_tenants_cursor(stores: Stores, clock: MovableClock) -> None:
    cursor = _cursor_of(stores, clock, "t1")
    _cursor_of(stores, clock, "t2")

    with pytest.raises(InvalidCursorError):
        stores.files.list_recent("t2", 1, cursor)


def test_list_recent_refuses_another_kinds_cursor(stores: Stores, clock: MovableClock) -> None:
    cursor = _cursor_of(stores, clock, "t1")

    with pytest.raises(InvalidCursorError):
        stores.executions.list_recent("t1", 1, cursor)


def test_list_recent_refuses_an_unsigned_key_naming_the_listing(stores: Stores, clock: MovableClock) -> None:
    _cursor_of(stores, clock, "t1")
    # What the cursor used to be: base64 of the start key, with the listing's partition in it.
    forged = {"gsi1pk": listing_partition("file", "t1"), "gsi1sk": 5, "pk": "file#x", "sk": "file"}
    cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")

    with pytest.raises(InvalidCursorError):
        stores.files.list_recent("t1", 1, cursor)


def test_list_recent_refuses_a_cursor_of_a_store_with_another_secret(
    stores: Stores, settings: Settings, clock: MovableClock
) -> None:
    cursor = _cursor_of(stores, clock, "t1")
    other = FileStore(aws.table(settings.table_name), clock, b"another stack's secret")

    with pytest.raises(InvalidCursorError):
        other.list_recent("t1", 1, cursor)


def test_list_recent_needs_a_cursor_secret(settings: Settings, clock: MovableClock) -> None:
    unsigned = FileStore(aws.table(settings.table_name), clock)

    with pytest.raises(RuntimeError, match="CURSOR_SECRET"):
        unsigned.list_recent("t1", 1, None)


def test_a_record_dynamodb_refuses_is_invalid_input(stores: Stores, clock: MovableClock) -> None:
    too_big = _file(clock, "t1").model_copy(update={"reason": "x" * 500_000})

    with pytest.raises(InvalidInputError):
        stores.files.transact([stores.files.create_write(too_big)])


def test_query_items_reads_every_page_of_a_partition_and_only_its_prefix(stores: Stores) -> None:
    store = stores.files
    table = store._table
    for n in range(5):
        table.put_item(Item={"pk": "p#paged", "sk": f"a#{n}", "n": n})
    table.put_item(Item={"pk": "p#paged", "sk": "b#0", "n": 99})

    # Limit=2 makes DynamoDB answer in pages of two: the reader must follow LastEvaluatedKey.
    items = list(store._query_items("p#paged", "a#", Limit=2))

    assert [i["n"] for i in items] == [0, 1, 2, 3, 4]
    assert len(list(store._query_items("p#paged", Limit=2))) == 6
