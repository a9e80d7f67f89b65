"""FileStore: the table's file records (status, size, expiry, where the bytes are)."""

from __future__ import annotations

from boto3.dynamodb.conditions import Attr

from stratus.errors import NotFoundError
from stratus.models.files import FileRecord, FileStatus, sources_of
from stratus.stores.base import Item, RecordStore

KIND = "file"


def file_key(file_id: str) -> Item:
    """Primary key of a file record."""
    return {"pk": f"{KIND}#{file_id}", "sk": KIND}


def listing_partition(tenant: str) -> str:
    """GSI partition holding one tenant's files."""
    return f"{KIND}#{tenant}"


def listing_sort_key(created_at: float, file_id: str) -> str:
    """GSI sort key: zero-padded creation time in ms, so string order is time order."""
    return f"{int(created_at * 1000):015d}#{file_id}"


class FileStore(RecordStore):
    """File records: created PENDING (presigned upload) or READY (direct upload)."""

    def create(self, record: FileRecord) -> None:
        """Store a new file record. Raises AlreadyExistsError."""
        item = {
            **file_key(record.file_id),
            "gsi1pk": listing_partition(record.tenant),
            "gsi1sk": listing_sort_key(record.created_at, record.file_id),
            **record.model_dump(mode="json"),
        }
        self._put_new(item, "file")

    def get(self, file_id: str, tenant: str | None = None) -> FileRecord:
        """Load a live file (of ``tenant`` when given). Raises NotFoundError."""
        record = FileRecord.model_validate(self._get_live(file_key(file_id), "file"))
        if tenant is not None and record.tenant != tenant:
            # Another tenant's file is answered exactly like a missing one.
            raise NotFoundError("file not found")
        return record

    def mark_ready(self, file_id: str, size: int, expires_at: int) -> FileRecord:
        """PENDING → READY with the validated size. Raises NotFoundError, IllegalTransitionError."""
        values = {"status": FileStatus.READY.value, "size": size, "expires_at": expires_at}
        item = self._update_guarded(
            file_key(file_id),
            "file",
            values,
            allowed_statuses=sources_of(FileStatus.READY),
            remove=["upload_id"],
        )
        return FileRecord.model_validate(item)

    def mark_rejected(self, file_id: str, reason: str) -> FileRecord:
        """PENDING → REJECTED with the reason. Raises NotFoundError, IllegalTransitionError."""
        values = {"status": FileStatus.REJECTED.value, "reason": reason}
        item = self._update_guarded(
            file_key(file_id),
            "file",
            values,
            allowed_statuses=sources_of(FileStatus.REJECTED),
            remove=["upload_id"],
        )
        return FileRecord.model_validate(item)

    def delete(self, file_id: str, tenant: str) -> FileRecord:
        """Delete a live file of ``tenant``; returns what was deleted. Raises NotFoundError."""
        item = self._delete_live(file_key(file_id), "file", Attr("tenant").eq(tenant))
        return FileRecord.model_validate(item)

    def list_recent(
        self, tenant: str, limit: int, cursor: str | None, status: FileStatus | None = None
    ) -> tuple[list[FileRecord], str | None]:
        """One page of ``tenant``'s live files, newest first. Raises InvalidInputError (bad cursor)."""
        items, next_cursor = self._query_recent(
            listing_partition(tenant), limit, cursor, status.value if status else None
        )
        return [FileRecord.model_validate(i) for i in items], next_cursor
