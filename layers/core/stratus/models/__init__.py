"""Pydantic models at the edges, one module per resource."""

from stratus.models.files import (
    FILE_ID_PATTERN,
    CompletedPart,
    Deleted,
    File,
    FileId,
    FilePage,
    FileRecord,
    FileStatus,
    FileUploaded,
    ObjectCreated,
    Upload,
    UploadComplete,
    UploadCreate,
    UploadPart,
)

__all__ = [
    "FILE_ID_PATTERN",
    "CompletedPart",
    "Deleted",
    "File",
    "FileId",
    "FilePage",
    "FileRecord",
    "FileStatus",
    "FileUploaded",
    "ObjectCreated",
    "Upload",
    "UploadComplete",
    "UploadCreate",
    "UploadPart",
]
