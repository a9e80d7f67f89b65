"""File use cases: direct and presigned uploads, ingestion, download, delete, listing, holds by executions."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from stratus import hdf5
from stratus.errors import (
    FileInUseError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    NotReadyError,
    PayloadTooLargeError,
)
from stratus.models.files import (
    FILE_ID_PATTERN,
    S3_MAX_PARTS,
    FileRecord,
    FileStatus,
    ObjectCreated,
    Upload,
    UploadComplete,
    UploadCreate,
    UploadPart,
)
from stratus.observability import logger
from stratus.services import holds
from stratus.stores.layout import UPLOADS_PREFIX, file_key, upload_key

if TYPE_CHECKING:
    from stratus.settings import Settings
    from stratus.stores import Stores

# S3 takes at most 5 GiB in one PUT; bigger files must go multipart.
S3_MAX_SINGLE_PUT_BYTES = 5 * 1024**3
_UPLOAD_KEY = re.compile(
    "^" + re.escape(UPLOADS_PREFIX) + "(?P<file_id>" + FILE_ID_PATTERN.strip("^$") + ")$"
)


@dataclass(frozen=True)
class Download:
    """A file's bytes, or where to fetch them when they are too big for a Lambda response."""

    size: int
    body: bytes = b""
    redirect_url: str | None = None


def new_file_id() -> str:
    """A fresh file id (uuid4, as Compox)."""
    return str(uuid.uuid4())


def check_direct_size(size: int, settings: Settings) -> None:
    """Raise PayloadTooLargeError when a body is over the direct-upload limit."""
    if size > settings.max_direct_upload_bytes:
        raise PayloadTooLargeError(
            f"the body is {size} bytes; direct uploads take at most {settings.max_direct_upload_bytes}. "
            "Use POST /api/v0/files/uploads to get a presigned upload URL instead"
        )


def store_upload(body: bytes, tenant: str, stores: Stores, settings: Settings) -> FileRecord:
    """Validate HDF5 bytes and store them as a READY file.

    Raises PayloadTooLargeError, InvalidInputError.
    """
    check_direct_size(len(body), settings)
    hdf5.validate_bytes(body)
    return store_ready(body, tenant, stores, settings)


def store_ready(body: bytes, tenant: str, stores: Stores, settings: Settings) -> FileRecord:
    """Store already-checked HDF5 bytes as a new READY file with the usual lifetime.

    Callers vouch for the bytes: store_upload validates a client's, the worker's runtime writes its own.
    """
    now = stores.clock()
    file_id = new_file_id()
    record = FileRecord(
        file_id=file_id,
        tenant=tenant,
        status=FileStatus.READY,
        s3_key=file_key(file_id),
        created_at=now,
        expires_at=int(now) + settings.file_lifetime_seconds,
        size=len(body),
    )
    # Object first: a record exists only when its bytes do. A failed record write leaves an
    # object the lifecycle rule removes.
    stores.objects.put_temporary(record.s3_key, body)
    stores.files.create(record)
    return record


def start_upload(request: UploadCreate, tenant: str, stores: Stores, settings: Settings) -> Upload:
    """Create a PENDING file and presigned URLs to upload its bytes straight to S3.

    Raises PayloadTooLargeError, InvalidInputError.
    """
    if request.size > settings.max_upload_bytes:
        raise PayloadTooLargeError(f"files may be at most {settings.max_upload_bytes} bytes")
    now = stores.clock()
    file_id = new_file_id()
    key = upload_key(file_id)
    expires_in = min(settings.presigned_url_seconds, settings.file_lifetime_seconds)
    part_size = _part_size(request, settings)
    upload_id = stores.objects.start_multipart(key) if part_size else None
    stores.files.create(
        FileRecord(
            file_id=file_id,
            tenant=tenant,
            status=FileStatus.PENDING,
            s3_key=key,
            created_at=now,
            expires_at=int(now) + settings.file_lifetime_seconds,
            upload_id=upload_id,
        )
    )
    parts: list[UploadPart] = []
    if part_size and upload_id:
        parts = [
            UploadPart(part_number=n, url=stores.objects.presign_part(key, upload_id, n, expires_in))
            for n in range(1, math.ceil(request.size / part_size) + 1)
        ]
    return Upload(
        file_id=file_id,
        upload_url=None if part_size else stores.objects.presign_put(key, expires_in),
        part_size=part_size,
        parts=parts,
        complete_url=None,
        expires_at=datetime.fromtimestamp(now + expires_in, UTC),
    )


def _part_size(request: UploadCreate, settings: Settings) -> int | None:
    """Bytes per part for a multipart upload, or None for a single PUT. Raises InvalidInputError."""
    if request.part_size is None and request.size <= min(
        settings.multipart_threshold_bytes, S3_MAX_SINGLE_PUT_BYTES
    ):
        return None
    part_size = request.part_size or max(
        settings.multipart_part_bytes, math.ceil(request.size / S3_MAX_PARTS)
    )
    if math.ceil(request.size / part_size) > S3_MAX_PARTS:
        raise InvalidInputError(f"part_size {part_size} needs more than {S3_MAX_PARTS} parts")
    return part_size


def complete_upload(file_id: str, request: UploadComplete, tenant: str, stores: Stores) -> FileRecord:
    """Assemble a multipart upload; ingestion then validates it.

    Raises NotFoundError, IllegalTransitionError, InvalidInputError.
    """
    record = stores.files.get(file_id, tenant)
    if record.status is not FileStatus.PENDING or record.upload_id is None:
        raise IllegalTransitionError(f"file {file_id} has no multipart upload in progress")
    parts = [(p.part_number, p.etag) for p in request.parts]
    stores.objects.complete_multipart(record.s3_key, record.upload_id, parts)
    return stores.files.get(file_id, tenant)


def ingest_object(created: ObjectCreated, stores: Stores, settings: Settings) -> FileRecord | None:
    """Validate an uploaded object and mark its file READY, or REJECTED (deleting the bytes).

    Idempotent: S3 may deliver an event twice; a file that is no longer PENDING is left alone.
    """
    match = _UPLOAD_KEY.match(created.key)
    if match is None:
        logger.warning("ignoring object outside the upload layout", extra={"key": created.key})
        return None
    file_id = match["file_id"]
    try:
        record = stores.files.get(file_id)
    except NotFoundError:
        # An upload for an expired or deleted file: its bytes must not linger.
        stores.objects.delete(created.key)
        return None
    if record.status is not FileStatus.PENDING:
        return record
    try:
        size = _validate_object(record, stores, settings)
        stores.objects.tag_temporary(record.s3_key)
        return stores.files.mark_ready(file_id, size, int(stores.clock()) + settings.file_lifetime_seconds)
    except InvalidInputError as exc:
        rejected = stores.files.mark_rejected(file_id, exc.detail)
        stores.objects.delete(record.s3_key)
        return rejected
    except IllegalTransitionError:
        # A duplicate event finished first.
        return stores.files.get(file_id)


def ingest_objects(objects: list[ObjectCreated], stores: Stores, settings: Settings) -> dict[str, str]:
    """Ingest every object of one S3 event; returns each key's resulting file status."""
    results = {}
    for created in objects:
        record = ingest_object(created, stores, settings)
        results[created.key] = record.status.value if record else "IGNORED"
    return results


def _validate_object(record: FileRecord, stores: Stores, settings: Settings) -> int:
    """Size of the uploaded object once it checks out as HDF5. Raises InvalidInputError."""
    size = stores.objects.size(record.s3_key)
    if size == 0:
        raise InvalidInputError("the uploaded file is empty")
    if size > settings.max_upload_bytes:
        raise InvalidInputError(f"the uploaded file is over {settings.max_upload_bytes} bytes")
    with stores.objects.open_ranged(record.s3_key, size) as reader:
        hdf5.validate_fileobj(reader)
    return size


def get_ready(file_id: str, tenant: str, stores: Stores) -> FileRecord:
    """A file usable as data. Raises NotFoundError, NotReadyError."""
    return _ready(stores.files.get(file_id, tenant))


def get_ready_many(file_ids: list[str], tenant: str, stores: Stores) -> list[FileRecord]:
    """Files usable as data, in one batched read (each id once, in order).

    Raises NotFoundError (naming every missing file), NotReadyError.
    """
    return [_ready(record) for record in stores.files.get_all(file_ids, tenant)]


def _ready(record: FileRecord) -> FileRecord:
    if record.status is not FileStatus.READY:
        detail = f"file {record.file_id} is {record.status.value}"
        raise NotReadyError(detail + (f": {record.reason}" if record.reason else ""))
    return record


def read_file(file_id: str, tenant: str, stores: Stores, settings: Settings) -> Download:
    """A READY file's bytes, or a presigned URL when too big to return.

    Raises NotFoundError, NotReadyError.
    """
    record = get_ready(file_id, tenant, stores)
    size = record.size or 0
    if size > settings.max_direct_download_bytes:
        return Download(size=size, redirect_url=stores.objects.presign_get(record.s3_key, expires_in=300))
    return Download(size=size, body=stores.objects.get(record.s3_key))


def delete_file(file_id: str, tenant: str, stores: Stores) -> None:
    """Delete a file's record, then its bytes. Raises NotFoundError, FileInUseError (input of a live
    execution)."""
    try:
        record = stores.files.delete_unheld(file_id, tenant)
    except FileInUseError:
        holds.release_ended_holders(file_id, tenant, stores)
        record = stores.files.delete_unheld(file_id, tenant)
    if record.upload_id:
        stores.objects.abort_multipart(record.s3_key, record.upload_id)
    stores.objects.delete(record.s3_key)
