"""File use cases: direct and presigned uploads, download, delete, listing, holds by executions (ingestion of
presigned uploads: services/ingestion.py)."""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from stratus import hdf5, tables
from stratus.errors import (
    FileInUseError,
    IllegalTransitionError,
    InvalidInputError,
    NotReadyError,
    PayloadTooLargeError,
)
from stratus.models.files import (
    S3_MAX_PARTS,
    FileContents,
    FileFormat,
    FileRecord,
    FileStatus,
    Upload,
    UploadComplete,
    UploadCreate,
    UploadPart,
    UploadPlan,
)
from stratus.services import holds
from stratus.stores.layout import file_key, upload_key

if TYPE_CHECKING:
    from stratus.settings import Settings
    from stratus.stores import Stores

# S3 takes at most 5 GiB in one PUT; bigger files must go multipart.
S3_MAX_SINGLE_PUT_BYTES = 5 * 1024**3
# How long the presigned GET a large download redirects to works.
DOWNLOAD_URL_SECONDS = 300


@dataclass(frozen=True)
class Download:
    """A file's bytes, or where to fetch them when they are too big for a Lambda response."""

    size: int
    disposition: str
    body: bytes = b""
    redirect_url: str | None = None


def download_disposition(file_id: str) -> str:
    """The Content-Disposition a download carries: a file name browsers and `curl -OJ` save it under."""
    return f'attachment; filename="{file_id}.h5"'


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


def store_upload(
    body: bytes,
    tenant: str,
    stores: Stores,
    settings: Settings,
    *,
    name: str | None = None,
    file_format: FileFormat = FileFormat.HDF5,
) -> FileRecord:
    """Validate HDF5 bytes, or convert a table (CSV, JSON, XLSX) to HDF5, and store them as a READY file.

    Raises PayloadTooLargeError, InvalidInputError (not HDF5; a bad table, naming its row and column).
    """
    check_direct_size(len(body), settings)
    body = tables.to_hdf5(body, file_format, name)
    contents = hdf5.validate_bytes(body)
    return store_ready(body, tenant, stores, settings, contents, name=name, source_format=file_format)


def store_ready(
    body: bytes,
    tenant: str,
    stores: Stores,
    settings: Settings,
    contents: FileContents | None = None,
    *,
    name: str | None = None,
    source_format: FileFormat = FileFormat.HDF5,
) -> FileRecord:
    """Store HDF5 bytes as a new READY file with the usual lifetime, recording what it holds:
    ``contents`` when the caller validated the bytes already (store_upload), else read from them here
    (a job's outputs, which the algorithm's process wrote).

    Raises InvalidInputError (bytes that are not HDF5).
    """
    if contents is None:
        contents = hdf5.validate_bytes(body)
    now = stores.clock()
    file_id = new_file_id()
    key = file_key(file_id)
    # Object first: a record exists only when its bytes do. A failed record write leaves an
    # object the lifecycle rule removes.
    version_id = stores.objects.put_temporary(key, body)
    record = FileRecord(
        file_id=file_id,
        tenant=tenant,
        status=FileStatus.READY,
        s3_key=key,
        created_at=now,
        expires_at=int(now) + settings.file_lifetime_seconds,
        size=len(body),
        version_id=version_id,
        content_hash=f"sha256:{hashlib.sha256(body).hexdigest()}",
        datasets=contents.datasets,
        datasets_truncated=contents.truncated,
        name=name,
        source_format=source_format,
    )
    stores.files.create(record)
    return record


def start_upload(request: UploadCreate, tenant: str, stores: Stores, settings: Settings) -> Upload:
    """Create a PENDING file and presigned URLs to upload its bytes straight to S3; a table (CSV, JSON,
    XLSX, by ``format`` or the name's extension) is converted to HDF5 when ingestion checks it.

    Raises PayloadTooLargeError, InvalidInputError.
    """
    if request.size > settings.max_upload_bytes:
        raise PayloadTooLargeError(f"files may be at most {settings.max_upload_bytes} bytes")
    file_format = tables.resolve_format(request.format, request.name)
    limit = tables.MAX_TABLE_BYTES.get(file_format)
    if limit is not None and request.size > limit:
        raise PayloadTooLargeError(
            f"{file_format.name} uploads may be at most {limit} bytes (they are converted to HDF5 in one "
            "piece); convert larger tables to HDF5 yourself"
        )
    plan = UploadPlan(size=request.size, part_size=_part_size(request, settings))
    now = stores.clock()
    file_id = new_file_id()
    key = upload_key(file_id)
    expires_in = min(settings.presigned_url_seconds, settings.file_lifetime_seconds)
    upload_id = stores.objects.start_multipart(key) if plan.part_size else None
    stores.files.create(
        FileRecord(
            file_id=file_id,
            tenant=tenant,
            status=FileStatus.PENDING,
            s3_key=key,
            created_at=now,
            expires_at=int(now) + settings.file_lifetime_seconds,
            upload=plan,
            upload_id=upload_id,
            name=request.name,
            source_format=file_format,
        )
    )
    return Upload(
        file_id=file_id,
        upload_url=None if upload_id else stores.objects.presign_put(key, expires_in, plan.size),
        part_size=plan.part_size,
        parts=_presign_parts(key, upload_id, plan, expires_in, stores) if upload_id else [],
        complete_url=None,
        expires_at=datetime.fromtimestamp(now + expires_in, UTC),
    )


def _presign_parts(
    key: str, upload_id: str, plan: UploadPlan, expires_in: int, stores: Stores
) -> list[UploadPart]:
    """One presigned PUT per planned part, each signed for the part's exact length."""
    return [
        UploadPart(
            part_number=number,
            size=size,
            url=stores.objects.presign_part(key, upload_id, number, size, expires_in),
        )
        for number, size in enumerate(plan.part_sizes(), start=1)
    ]


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
    """Assemble a multipart upload from every part of its plan; ingestion then validates it.

    A refused request changes nothing: the client may upload what is missing and complete again.
    Raises NotFoundError (unknown or expired file), IllegalTransitionError (no multipart upload in
    progress: a single PUT, completed already, or settled), InvalidInputError (parts missing or not in the
    plan, or refused by S3).
    """
    record = stores.files.get(file_id, tenant)
    upload_id = _upload_in_progress(record)
    _check_parts(record, request)
    parts = [(p.part_number, p.etag) for p in request.parts]
    stores.objects.complete_multipart(record.s3_key, upload_id, parts)
    try:
        return stores.files.mark_completed(file_id, upload_id)
    except IllegalTransitionError:
        # Ingestion (or a concurrent complete) got there first: the upload is assembled either way.
        return stores.files.get(file_id, tenant)


def _upload_in_progress(record: FileRecord) -> str:
    """The id of the file's multipart upload still taking parts. Raises IllegalTransitionError."""
    if record.status is not FileStatus.PENDING:
        raise IllegalTransitionError(f"file {record.file_id} is {record.status.value}: its upload is over")
    if record.completed_at is not None:
        raise IllegalTransitionError(
            f"the upload of file {record.file_id} was completed already; ingestion is checking it"
        )
    if record.upload_id is None:
        raise IllegalTransitionError(
            f"file {record.file_id} is a single-PUT upload: there is nothing to complete"
        )
    return record.upload_id


def _check_parts(record: FileRecord, request: UploadComplete) -> None:
    """Refuse a part list that is not exactly the planned parts, each once. Raises InvalidInputError."""
    if record.upload is None:
        return
    count = len(record.upload.part_sizes())
    given = {part.part_number for part in request.parts}
    unknown = sorted(number for number in given if number > count)
    if unknown:
        raise InvalidInputError(
            f"the upload of file {record.file_id} has parts 1 to {count}; "
            f"there is no part {_describe_numbers(unknown)}"
        )
    missing = sorted(set(range(1, count + 1)) - given)
    if missing:
        raise InvalidInputError(
            f"parts missing: {_describe_numbers(missing)}; upload them and complete with all {count} parts"
        )


def _describe_numbers(numbers: list[int]) -> str:
    """Sorted numbers as people read them, runs shortened: [1, 2, 3, 7] → "1-3, 7"."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


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
    disposition = download_disposition(record.file_id)
    if size > settings.max_direct_download_bytes:
        url = stores.objects.presign_get(record.s3_key, DOWNLOAD_URL_SECONDS, record.version_id, disposition)
        return Download(size=size, disposition=disposition, redirect_url=url)
    return Download(size=size, disposition=disposition, body=read_bytes(record, stores))


def read_bytes(record: FileRecord, stores: Stores) -> bytes:
    """A READY file's bytes: the S3 version that became READY, whatever was written to its key since.

    Raises NotFoundError.
    """
    return stores.objects.get(record.s3_key, record.version_id)


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
    stores.objects.delete_versions(record.s3_key)
