"""Ingestion: an object uploaded with a presigned URL becomes a READY file once its bytes check out (HDF5
validated, or a table converted to HDF5), or REJECTED; S3's ObjectCreated events drive it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus import hdf5, tables
from stratus.errors import IllegalTransitionError, InvalidInputError, NotFoundError
from stratus.models.files import FILE_ID_PATTERN, FileContents, FileRecord, FileStatus, ObjectCreated
from stratus.observability import logger
from stratus.stores.layout import UPLOADS_PREFIX, file_key
from stratus.stores.objects import ObjectVersion

if TYPE_CHECKING:
    from stratus.settings import Settings
    from stratus.stores import Stores

_UPLOAD_KEY = re.compile(
    "^" + re.escape(UPLOADS_PREFIX) + "(?P<file_id>" + FILE_ID_PATTERN.strip("^$") + ")$"
)


def ingest_object(created: ObjectCreated, stores: Stores, settings: Settings) -> FileRecord | None:
    """Validate an uploaded object and mark its file READY (pinned to the version validated), or
    REJECTED (deleting the bytes).

    Idempotent: S3 may deliver an event twice. A file that is no longer PENDING stays as it is, and a
    later PUT to its key (a presigned URL used again) leaves no bytes behind.
    """
    match = _UPLOAD_KEY.match(created.key)
    if match is None:
        logger.warning("ignoring object outside the upload layout", extra={"key": created.key})
        return None
    try:
        record = stores.files.get(match["file_id"])
    except NotFoundError:
        # An upload for an expired or deleted file: its bytes must not linger.
        stores.objects.delete_versions(created.key)
        return None
    if record.status is FileStatus.PENDING:
        record = _settle(record, created.version_id, stores, settings)
    if record.status is FileStatus.REJECTED:
        stores.objects.delete_versions(record.s3_key)
    elif record.version_id is not None:
        # READY: the file is the version it was validated as; any other version is an unchecked PUT.
        stores.objects.delete_versions(record.s3_key, keep=record.version_id)
    if record.s3_key != created.key:
        # A converted table: the file is the HDF5 ingestion wrote; the upload was only its source.
        stores.objects.delete_versions(created.key)
    return record


@dataclass(frozen=True)
class _Accepted:
    """What ingestion accepted: where the file's bytes are (which version), and what they hold."""

    s3_key: str
    version: ObjectVersion
    content_hash: str | None
    contents: FileContents


def _settle(record: FileRecord, version_id: str | None, stores: Stores, settings: Settings) -> FileRecord:
    """Validate (or convert) a PENDING file's object (``version_id``, else the current version) and record
    the outcome.

    Raises NotFoundError (the file or its object went away meanwhile).
    """
    try:
        try:
            accepted = _accept(record, version_id, stores, settings)
        except InvalidInputError as exc:
            return stores.files.mark_rejected(record.file_id, exc.detail)
        expires_at = int(stores.clock()) + settings.file_lifetime_seconds
        return stores.files.mark_ready(
            record.file_id,
            accepted.version.size,
            expires_at,
            accepted.version.version_id,
            accepted.content_hash,
            accepted.contents,
            s3_key=None if accepted.s3_key == record.s3_key else accepted.s3_key,
        )
    except IllegalTransitionError:
        # A duplicate event settled the file first (a table's second conversion is removed by the caller:
        # it is a version of the file's key other than the one recorded).
        return stores.files.get(record.file_id)


def _accept(record: FileRecord, version_id: str | None, stores: Stores, settings: Settings) -> _Accepted:
    """The uploaded HDF5 once it checks out (tagged to expire), or the HDF5 its table converts to.

    Raises InvalidInputError, NotFoundError.
    """
    checked = _checked_object(record, version_id, stores, settings)
    if tables.is_table(record.source_format):
        return _convert_table(record, checked, stores)
    with stores.objects.open_ranged(record.s3_key, checked.size, checked.version_id) as reader:
        contents = hdf5.validate_fileobj(reader)
    stores.objects.tag_temporary(record.s3_key, checked.version_id)
    content_hash = f"etag:{checked.etag.strip(chr(34))}" if checked.etag else None
    return _Accepted(record.s3_key, checked, content_hash, contents)


def _convert_table(record: FileRecord, checked: ObjectVersion, stores: Stores) -> _Accepted:
    """Convert an uploaded table to HDF5, stored under the file's own key: outside uploads/, so writing it
    triggers no ingestion, and nothing is written for a table that does not convert.

    Raises InvalidInputError (naming the row and column), NotFoundError.
    """
    tables.check_size(checked.size, record.source_format)  # before reading it into memory
    source = stores.objects.get(record.s3_key, checked.version_id)
    body = tables.to_hdf5(source, record.source_format, record.name)
    contents = hdf5.validate_bytes(body)
    key = file_key(record.file_id)
    version_id = stores.objects.put_temporary(key, body)
    content_hash = f"sha256:{hashlib.sha256(body).hexdigest()}"
    return _Accepted(key, ObjectVersion(version_id, len(body)), content_hash, contents)


def ingest_objects(objects: list[ObjectCreated], stores: Stores, settings: Settings) -> dict[str, str]:
    """Ingest every object of one S3 event; returns each key's resulting file status."""
    results = {}
    for created in objects:
        record = ingest_object(created, stores, settings)
        results[created.key] = record.status.value if record else "IGNORED"
    return results


def _checked_object(
    record: FileRecord, version_id: str | None, stores: Stores, settings: Settings
) -> ObjectVersion:
    """The uploaded object's version once it has the declared size.

    Raises InvalidInputError, NotFoundError.
    """
    checked = stores.objects.head(record.s3_key, version_id)
    if record.upload is not None and checked.size != record.upload.size:
        raise InvalidInputError(
            f"the uploaded file is {checked.size} bytes; the upload declared {record.upload.size}"
        )
    if checked.size == 0:
        raise InvalidInputError("the uploaded file is empty")
    if checked.size > settings.max_upload_bytes:
        raise InvalidInputError(f"the uploaded file is over {settings.max_upload_bytes} bytes")
    return checked
