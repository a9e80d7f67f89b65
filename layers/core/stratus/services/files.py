"""File use cases: direct and presigned uploads, ingestion, download, delete, listing, holds by executions."""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from stratus import hdf5, tables
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
    FileContents,
    FileFormat,
    FileRecord,
    FileStatus,
    ObjectCreated,
    Upload,
    UploadComplete,
    UploadCreate,
    UploadPart,
    UploadPlan,
)
from stratus.observability import logger
from stratus.services import holds
from stratus.stores.layout import UPLOADS_PREFIX, file_key, upload_key
from stratus.stores.objects import ObjectVersion

if TYPE_CHECKING:
    from stratus.settings import Settings
    from stratus.stores import Stores

# S3 takes at most 5 GiB in one PUT; bigger files must go multipart.
S3_MAX_SINGLE_PUT_BYTES = 5 * 1024**3
# How long the presigned GET a large download redirects to works.
DOWNLOAD_URL_SECONDS = 300
_UPLOAD_KEY = re.compile(
    "^" + re.escape(UPLOADS_PREFIX) + "(?P<file_id>" + FILE_ID_PATTERN.strip("^$") + ")$"
)


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
