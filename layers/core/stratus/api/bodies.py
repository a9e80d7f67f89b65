"""Raw request bodies (HDF5 files, package zips): content type and size checked before reading."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from stratus.api.deps import SettingsDep
from stratus.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from stratus.tables.formats import MEDIA_TYPES as TABLE_MEDIA_TYPES

# What Compox clients send, plus the registered types; a missing header is taken as raw bytes.
HDF5_MEDIA_TYPES = frozenset({"", "application/octet-stream", "application/x-hdf5", "application/x-hdf"})
# A file upload: HDF5, or a table (CSV, JSON, XLSX) converted to HDF5.
UPLOAD_MEDIA_TYPES = HDF5_MEDIA_TYPES | frozenset(TABLE_MEDIA_TYPES)
ZIP_MEDIA_TYPES = frozenset(
    {"", "application/octet-stream", "application/zip", "application/x-zip-compressed"}
)


def binary_body(*media_types: str) -> dict[str, Any]:
    """OpenAPI `openapi_extra` describing a required raw binary body."""
    schema = {"type": "string", "format": "binary"}
    return {"requestBody": {"required": True, "content": {t: {"schema": schema} for t in media_types}}}


def check_media_type(content_type: str | None, accepted: frozenset[str], what: str) -> None:
    """Raise UnsupportedMediaTypeError unless the body's declared type is one of ``accepted``."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in accepted:
        raise UnsupportedMediaTypeError(f"send {what} as application/octet-stream, not {media_type}")


def raw_body(accepted: frozenset[str], what: str, hint: str = "") -> Callable[..., Awaitable[bytes]]:
    """A dependency reading the raw body once its type and declared length pass."""

    async def read(request: Request, settings: SettingsDep) -> bytes:
        check_media_type(request.headers.get("content-type"), accepted, what)
        declared = request.headers.get("content-length")
        limit = settings.max_direct_upload_bytes
        # Lambda takes at most 6 MB per invocation, base64 included: refuse before reading.
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLargeError(f"the body is {declared} bytes; requests take at most {limit}. {hint}")
        return await request.body()

    return read


UploadBody = Annotated[
    bytes,
    Depends(raw_body(UPLOAD_MEDIA_TYPES, "the file", "Use POST /api/v0/files/uploads for larger files")),
]
ZipBody = Annotated[bytes, Depends(raw_body(ZIP_MEDIA_TYPES, "the package zip"))]
