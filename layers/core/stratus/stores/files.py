"""FileStore: the table's file records (status, size, expiry, where the bytes are)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase
from botocore.exceptions import ClientError

from stratus.errors import ConflictError, FileInUseError, NotFoundError
from stratus.models.files import FileContents, FileRecord, FileStatus, describe_holders, sources_of
from stratus.stores.base import Item, TenantRecordStore, Write, from_item

# A hold or release is a conditional write that guesses the item's state; a wrong guess reads the item
# and tries again. A guess is wrong twice only when another hold or release lands in between.
MAX_HOLD_ROUNDS = 8
# Placeholders of the hold/release update expressions (boto3's condition builder uses #n0 and :v0).
HOLD_NAMES = {"#held": "held_by", "#own": "own_expires_at", "#expires": "expires_at"}


class FileStore(TenantRecordStore[FileRecord]):
    """File records: created PENDING (presigned upload) or READY (direct upload)."""

    kind = "file"
    id_field = "file_id"
    model = FileRecord

    def _dump(self, record: FileRecord) -> Item:
        # Holds are only ever added by hold writes: DynamoDB has no empty string sets.
        return record.model_dump(mode="json", exclude={"held_by"})

    def mark_ready(
        self,
        file_id: str,
        size: int,
        expires_at: int,
        version_id: str | None = None,
        content_hash: str | None = None,
        contents: FileContents | None = None,
        s3_key: str | None = None,
    ) -> FileRecord:
        """PENDING → READY with the validated size, S3 version, content hash and datasets (and ``s3_key``
        when the file's bytes are not the upload's: a table converted to HDF5). Raises NotFoundError,
        IllegalTransitionError."""
        values: dict[str, Any] = {"size": size, "expires_at": expires_at}
        if s3_key is not None:
            values["s3_key"] = s3_key
        if version_id is not None:
            values["version_id"] = version_id
        if content_hash is not None:
            values["content_hash"] = content_hash
        if contents is not None:
            values["datasets"] = [dataset.model_dump(mode="json") for dataset in contents.datasets]
            values["datasets_truncated"] = contents.truncated
        return self._end_upload(file_id, FileStatus.READY, values)

    def mark_rejected(self, file_id: str, reason: str) -> FileRecord:
        """PENDING → REJECTED with the reason. Raises NotFoundError, IllegalTransitionError."""
        return self._end_upload(file_id, FileStatus.REJECTED, {"reason": reason})

    def mark_completed(self, file_id: str, upload_id: str) -> FileRecord:
        """Record that multipart upload ``upload_id`` of a PENDING file was assembled, so it cannot be
        completed again. Raises NotFoundError, IllegalTransitionError (settled or completed already)."""
        return self._update(
            file_id,
            {"completed_at": self._clock()},
            allowed_statuses={FileStatus.PENDING.value},
            condition=Attr("upload_id").eq(upload_id),
            remove=["upload_id"],
        )

    def _end_upload(self, file_id: str, target: FileStatus, values: dict[str, Any]) -> FileRecord:
        return self._update(
            file_id,
            {"status": target.value, **values},
            allowed_statuses=sources_of(target),
            remove=["upload_id"],
        )

    def delete_unheld(self, file_id: str, tenant: str) -> FileRecord:
        """Delete a live, unheld file of ``tenant``; returns what was deleted.

        Raises NotFoundError, FileInUseError (a job or sample holds it; the error names them).
        """
        try:
            return self.delete(file_id, tenant, Attr("held_by").not_exists())
        except NotFoundError:
            # One consistent read decides why; get() raises NotFoundError itself when the file is gone.
            holders = self.get(file_id, tenant).held_by
            if holders:
                raise FileInUseError(f"file {file_id} is held by {describe_holders(holders)}") from None
            raise

    def hold_write(self, record: FileRecord, holder: str, until: int) -> Write:
        """The transaction write that adds ``holder`` to a READY file of its tenant and keeps it live until
        at least ``until``, guessing from ``record`` (read just before) whether that moves its expiry out.

        DynamoDB has no max(): the write either moves expires_at out to ``until`` or keeps a later one; a
        wrong guess (the file changed since the read) fails the transaction and the caller reads again.
        Both guesses hold at equality, so concurrent holds of one file in the same second (the same
        ``until``) never fail each other.
        """
        extend = record.expires_at <= until
        expression = "ADD #held :holder SET #own = if_not_exists(#own, #expires)"
        values: dict[str, Any] = {":holder": {holder}}
        if extend:
            expression += ", #expires = :until"
            values[":until"] = until
        expiry = Attr("expires_at").lte(until) if extend else Attr("expires_at").gte(until)
        guard = (
            self._live_condition()
            & Attr("tenant").eq(record.tenant)
            & Attr("status").eq(FileStatus.READY.value)
            & expiry
        )
        return {
            "Update": {
                "Key": self.key(record.file_id),
                "UpdateExpression": expression,
                "ExpressionAttributeNames": {n: a for n, a in HOLD_NAMES.items() if n in expression},
                "ExpressionAttributeValues": values,
                "Condition": guard,
            }
        }

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
                Key=self.key(file_id),
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
        item = self._table.get_item(Key=self.key(file_id), ConsistentRead=True).get("Item")
        return None if item is None else from_item(item)
