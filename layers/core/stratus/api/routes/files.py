"""Files API (Compox's /api/v0/files plus presigned uploads for large files)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import RedirectResponse

from stratus import tables
from stratus.api.bodies import UploadBody, binary_body
from stratus.api.deps import CallerDep, CursorQuery, FileDep, FileIdPath, LimitQuery, SettingsDep, StoresDep
from stratus.models.files import (
    FILE_NAME_MAX_CHARS,
    FILE_NAME_PATTERN,
    Deleted,
    File,
    FileDetail,
    FileFormat,
    FilePage,
    FileStatus,
    FileUploaded,
    Upload,
    UploadComplete,
    UploadCreate,
)
from stratus.services import files as service

router = APIRouter(prefix="/files", tags=["files"])

ERRORS = {
    404: {"description": "Unknown or expired file"},
    409: {"description": "The file is not READY"},
    413: {"description": "Body over the direct-upload limit"},
    415: {"description": "Body is not raw bytes"},
}
UPLOAD_ERRORS = {
    409: {"description": "No multipart upload in progress: a single PUT, completed already, or settled"},
    413: {"description": "Declared size over the maximum file size"},
}


NameQuery = Annotated[
    str | None,
    Query(
        max_length=FILE_NAME_MAX_CHARS,
        pattern=FILE_NAME_PATTERN,
        description="The file's name (kept on the file); .csv, .json or .xlsx makes it a table",
    ),
]
FormatQuery = Annotated[
    FileFormat | None,
    Query(
        alias="format",
        description="What the body is (default: from a table content type, else the name, else hdf5)",
    ),
]


@router.post(
    "",
    summary="Upload an HDF5 file or a table (raw body)",
    openapi_extra=binary_body("application/octet-stream", "application/x-hdf5", *tables.MEDIA_TYPES),
    responses={k: ERRORS[k] for k in (413, 415)},
)
def upload_file(
    body: UploadBody,
    caller: CallerDep,
    stores: StoresDep,
    settings: SettingsDep,
    name: NameQuery = None,
    requested_format: FormatQuery = None,
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> FileUploaded:
    """Store a file sent as the raw body; it expires after the configured lifetime. HDF5 is stored as
    sent; a table (CSV, JSON or XLSX) is converted to HDF5 first, one dataset per table, and a bad one is
    refused with the row and column at fault."""
    file_format = tables.resolve_format(requested_format, name, content_type)
    record = service.store_upload(body, caller.tenant, stores, settings, name=name, file_format=file_format)
    return FileUploaded(file_id=record.file_id)


@router.get("", summary="List files, newest first")
def list_files(
    caller: CallerDep,
    stores: StoresDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: FileStatus | None = None,
) -> FilePage:
    """One page of the caller's live files."""
    records, next_cursor = stores.files.list_recent(caller.tenant, limit, cursor, status)
    return FilePage(items=[File.from_record(r) for r in records], next_cursor=next_cursor)


@router.post(
    "/uploads",
    status_code=201,
    summary="Start a presigned upload of a large file",
    responses={413: UPLOAD_ERRORS[413]},
)
def start_upload(
    body: UploadCreate, request: Request, caller: CallerDep, stores: StoresDep, settings: SettingsDep
) -> Upload:
    """PUT the bytes to `upload_url` (or each part to its URL, then POST `complete_url`).

    Each URL is signed for an exact length (`size`, or the part's `size`): S3 refuses any other. The
    file is PENDING until ingestion validates it, then READY (or REJECTED with a reason); once READY it
    never changes, even if a URL is used again.
    """
    upload = service.start_upload(body, caller.tenant, stores, settings)
    if upload.parts:
        complete_url = str(request.url_for("complete_upload", file_id=upload.file_id))
        upload = upload.model_copy(update={"complete_url": complete_url})
    return upload


@router.post(
    "/uploads/{file_id}/complete",
    summary="Finish a multipart upload",
    responses={404: ERRORS[404], 409: UPLOAD_ERRORS[409]},
)
def complete_upload(file_id: FileIdPath, body: UploadComplete, caller: CallerDep, stores: StoresDep) -> File:
    """Assemble the uploaded parts (every part of the upload, each once); the file then goes through
    ingestion. A refused request changes nothing."""
    return File.from_record(service.complete_upload(file_id, body, caller.tenant, stores))


@router.get(
    "/{file_id}",
    summary="Download a file",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        307: {"description": "Large file: follow the Location to a short-lived presigned URL"},
        **{k: ERRORS[k] for k in (404, 409)},
    },
)
def download_file(
    file_id: FileIdPath, caller: CallerDep, stores: StoresDep, settings: SettingsDep
) -> Response:
    """The file's HDF5 bytes, named `<file_id>.h5` (Content-Disposition)."""
    download = service.read_file(file_id, caller.tenant, stores, settings)
    if download.redirect_url is not None:
        return RedirectResponse(download.redirect_url, status_code=307)
    return Response(
        content=download.body,
        media_type="application/octet-stream",
        headers={"Content-Disposition": download.disposition},
    )


@router.get("/{file_id}/status", summary="A file's status and metadata", responses={404: ERRORS[404]})
async def file_status(file: FileDep) -> FileDetail:
    """Status (PENDING, READY, REJECTED with reason), size, expiry and, once READY, what the file holds:
    each dataset's path, shape, dtype, chunks and compression filters."""
    return FileDetail.from_record(file)


@router.delete("/{file_id}", summary="Delete a file now", responses={404: ERRORS[404]})
def delete_file(file_id: FileIdPath, caller: CallerDep, stores: StoresDep) -> Deleted:
    """Remove the file at once, before its expiry."""
    service.delete_file(file_id, caller.tenant, stores)
    return Deleted(detail="File deleted successfully")
