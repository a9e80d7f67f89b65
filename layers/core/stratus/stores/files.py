"""FileStore: the table's file records (status, size, expiry, where the bytes are)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase
from botocore.exceptions import ClientError

from stratus.errors import ConflictError, FileInUseError, NotFoundError
from stratus.models.files import FileRecord, FileStatus, sources_of
from stratus.stores.base import Item, RecordStore, from_item

KIND = "file"
# A hold or release is a conditional write that guesses the item's state; a wrong guess reads the item
# and tries again. A guess is wrong twice only when another hold or release lands in between.
MAX_HOLD_ROUNDS = 8
# Placeholders of the hold/release update expressions (boto3's condition builder uses #n0 and :v0).
HOLD_NAMES = {"#held": "held_by", "#own": "own_expires_at", "#expires": "expires_at"}


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
            # Holds are only ever added by hold(): DynamoDB has no empty string sets.
            **record.model_dump(mode="json", exclude={"held_by"}),
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
        return self._end_upload(file_id, FileStatus.READY, {"size": size, "expires_at": expires_at})

    def mark_rejected(self, file_id: str, reason: str) -> FileRecord:
        """PENDING → REJECTED with the reason. Raises NotFoundError, IllegalTransitionError."""
        return self._end_upload(file_id, FileStatus.REJECTED, {"reason": reason})

    def _end_upload(self, file_id: str, target: FileStatus, values: dict[str, Any]) -> FileRecord:
        item = self._update_guarded(
            file_key(file_id),
            "file",
            {"status": target.value, **values},
            allowed_statuses=sources_of(target),
            remove=["upload_id"],
        )
        return FileRecord.model_validate(item)

    def delete(self, file_id: str, tenant: str) -> FileRecord:
        """Delete a live, unheld file of ``tenant``; returns what was deleted.

        Raises NotFoundError, FileInUseError (an execution holds it).
        """
        unheld = Attr("tenant").eq(tenant) & Attr("held_by").not_exists()
        try:
            item = self._delete_live(file_key(file_id), "file", unheld)
        except NotFoundError:
            # One consistent read decides why; get() raises NotFoundError itself when the file is gone.
            if self.get(file_id, tenant).held_by:
                raise FileInUseError(
                    f"file {file_id} is an input of an execution that has not ended"
                ) from None
            raise
        return FileRecord.model_validate(item)

    def list_recent(
        self, tenant: str, limit: int, cursor: str | None, status: FileStatus | None = None
    ) -> tuple[list[FileRecord], str | None]:
        """One page of ``tenant``'s live files, newest first. Raises InvalidInputError (bad cursor)."""
        items, next_cursor = self._query_recent(
            listing_partition(tenant), limit, cursor, status.value if status else None
        )
        return [FileRecord.model_validate(i) for i in items], next_cursor

    def hold(self, file_id: str, holder: str, until: int) -> FileRecord:
        """Add ``holder`` to the file's holders and keep the file live until at least ``until``.

        Idempotent. Raises NotFoundError.
        """
        extend = True
        for _ in range(MAX_HOLD_ROUNDS):
            # DynamoDB has no max(): either move expires_at out to ``until``, or keep a later one as it is.
            # Operands read the item as it was, so the first hold keeps the file's own expiry.
            expression = "ADD #held :holder SET #own = if_not_exists(#own, #expires)"
            if extend:
                expression += ", #expires = :until"
            expiry: ConditionBase = Attr("expires_at").lt(until) if extend else Attr("expires_at").gte(until)
            values = {":holder": {holder}, ":until": until} if extend else {":holder": {holder}}
            record = self._update_if(file_id, expression, values, self._live_condition() & expiry)
            if record is not None:
                return record
            current = self._current(file_id)
            if current is None or not self._is_live(current):
                raise NotFoundError(f"file {file_id} not found")
            extend = int(current["expires_at"]) < until
        raise ConflictError(f"file {file_id} kept changing while it was being held; try again")

    def release(self, file_id: str, holder: str) -> FileRecord | None:
        """Drop ``holder``'s hold; the last one out gives the file back its own expiry (when that has
        passed, the file expires at once).

        Idempotent: returns None when ``holder`` holds nothing (released already, or the file is gone).
        """
        last = True
        for _ in range(MAX_HOLD_ROUNDS):
            holders: ConditionBase = Attr("held_by").size().eq(1) if last else Attr("held_by").size().gt(1)
            if last:
                expression, values = "SET #expires = #own REMOVE #held, #own", {}
            else:
                expression, values = "DELETE #held :holder", {":holder": {holder}}
            record = self._update_if(file_id, expression, values, Attr("held_by").contains(holder) & holders)
            if record is not None:
                return record
            current = self._current(file_id)
            if current is None or holder not in current.get("held_by", set()):
                return None
            last = len(current["held_by"]) == 1
        raise ConflictError(f"file {file_id} kept changing while it was being released; try again")

    def _update_if(
        self, file_id: str, expression: str, values: dict[str, Any], condition: ConditionBase
    ) -> FileRecord | None:
        """One conditional write of a hold or release; None when ``condition`` does not hold."""
        try:
            response = self._table.update_item(
                Key=file_key(file_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                # DynamoDB rejects placeholders the expressions do not use.
                ExpressionAttributeNames={n: a for n, a in HOLD_NAMES.items() if n in expression},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return FileRecord.model_validate(from_item(response["Attributes"]))

    def _current(self, file_id: str) -> Item | None:
        """The item as it is now, expired or not (a failed hold or release decides its next guess)."""
        item = self._table.get_item(Key=file_key(file_id), ConsistentRead=True).get("Item")
        return None if item is None else from_item(item)
