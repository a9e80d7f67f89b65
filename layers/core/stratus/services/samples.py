"""Sample use cases: create (files pinned in the same transaction), read, list by tags, delete."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from stratus.errors import ConflictError, NotFoundError
from stratus.models.samples import SampleRecord
from stratus.services import files, holds

if TYPE_CHECKING:
    from stratus.models.files import FileRecord
    from stratus.models.samples import SampleCreate
    from stratus.stores import Stores

MAX_ATTEMPTS = 3


def create(request: SampleCreate, tenant: str, stores: Stores) -> SampleRecord:
    """Store a sample and pin its files (they do not expire, nor can be deleted, while it exists).

    Raises NotFoundError (a file is unknown, expired or not READY), ConflictError (files kept changing).
    """
    file_ids = request.file_ids()
    inputs = _ready_files(file_ids, tenant, stores)
    record = SampleRecord(
        sample_id=str(uuid.uuid4()),
        tenant=tenant,
        files=request.files,
        tags=request.tags,
        created_at=stores.clock(),
    )
    holder = holds.holder_of(holds.SAMPLE, record.sample_id)
    for _ in range(MAX_ATTEMPTS):
        writes = holds.hold_writes(inputs, holder, stores.clock(), stores)
        try:
            holds.transact_with_holds([stores.samples.create_write(record)], writes, stores)
        except holds.TransactionFailed:
            inputs = _ready_files(file_ids, tenant, stores)  # a file changed: read again, then retry
            continue
        holds.tag_held(holder, inputs, stores)
        return record
    raise ConflictError("the sample's files kept changing while it was created; try again")


def _ready_files(file_ids: list[str], tenant: str, stores: Stores) -> list[FileRecord]:
    # Compox answers 404 for a file it cannot use in a sample, whatever the reason.
    try:
        return files.get_ready_many(file_ids, tenant, stores)
    except ConflictError as exc:
        raise NotFoundError(exc.detail) from exc


def delete(sample_id: str, tenant: str, stores: Stores) -> SampleRecord:
    """Delete a sample; each file it pinned gets its own expiry back when no other holder remains.

    Raises NotFoundError.
    """
    record = stores.samples.delete(sample_id, tenant)
    holds.release(holds.holder_of(holds.SAMPLE, sample_id), record.file_ids(), stores)
    return record
