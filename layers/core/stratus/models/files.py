"""Files: uploaded or produced HDF5 data, addressed by id (Compox's data-store)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stratus.models.records import TenantRecord

# Compox hands out uuid4 strings; we accept the canonical hex-with-dashes form only.
FILE_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
FileId = Annotated[str, Field(pattern=FILE_ID_PATTERN, examples=["3f2b1c9e-8a7d-4e6f-9b1a-2c3d4e5f6a7b"])]

S3_MIN_PART_BYTES = 5 * 1024 * 1024
S3_MAX_PARTS = 10_000


class FileStatus(StrEnum):
    """Where a file is in its life: uploads start PENDING until ingestion validates them."""

    PENDING = "PENDING"
    READY = "READY"
    REJECTED = "REJECTED"


# The allowed status changes, source → targets; everything else is an IllegalTransitionError.
FILE_TRANSITIONS: dict[FileStatus, frozenset[FileStatus]] = {
    FileStatus.PENDING: frozenset({FileStatus.READY, FileStatus.REJECTED}),
    FileStatus.READY: frozenset(),
    FileStatus.REJECTED: frozenset(),
}


def sources_of(target: FileStatus) -> frozenset[FileStatus]:
    """Statuses from which ``target`` may be reached."""
    return frozenset(s for s, targets in FILE_TRANSITIONS.items() if target in targets)


class FileRecord(TenantRecord):
    """A file as stored in the table (internal)."""

    file_id: str
    status: FileStatus
    s3_key: str
    expires_at: int
    size: int | None = None
    reason: str | None = None
    upload_id: str | None = None
    # Jobs and samples using the file, as "<kind>#<id>" (a DynamoDB string set; absent when empty). While
    # any holds it, expires_at is pushed out and own_expires_at keeps the file's own expiry for the last
    # release.
    held_by: frozenset[str] = frozenset()
    own_expires_at: int | None = None


def describe_holders(holders: Iterable[str]) -> str:
    """Holders ("<kind>#<id>") as people read them: "sample 1f…, execution 9c…"."""
    return ", ".join(holder.replace("#", " ", 1) for holder in sorted(holders))


class FileUploaded(BaseModel):
    """Compox's answer to an upload."""

    file_id: str


class File(BaseModel):
    """A file's metadata, as clients see it."""

    file_id: str
    status: FileStatus
    size: int | None = Field(description="Bytes; known once the file is READY")
    reason: str | None = Field(description="Why ingestion rejected the file")
    time_created: datetime
    expires_at: datetime

    @classmethod
    def from_record(cls, record: FileRecord) -> File:
        """Shape a stored record for clients."""
        return cls(
            file_id=record.file_id,
            status=record.status,
            size=record.size,
            reason=record.reason,
            time_created=datetime.fromtimestamp(record.created_at, UTC),
            expires_at=datetime.fromtimestamp(record.expires_at, UTC),
        )


class FilePage(BaseModel):
    """One page of files, newest first."""

    items: list[File]
    next_cursor: str | None


class UploadCreate(BaseModel):
    """Ask for a presigned upload of a file of ``size`` bytes."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(gt=0, description="Exact size of the file in bytes")
    part_size: int | None = Field(
        default=None,
        ge=S3_MIN_PART_BYTES,
        description="Force a multipart upload with parts of this many bytes (S3 needs at least 5 MiB)",
    )


class UploadPart(BaseModel):
    """One presigned part of a multipart upload."""

    part_number: int
    url: str


class Upload(BaseModel):
    """Where to send the bytes: one PUT to ``upload_url``, or one PUT per part then ``complete``."""

    file_id: str
    upload_url: str | None = Field(description="Presigned PUT for single-request uploads")
    part_size: int | None = Field(description="Bytes per part (the last may be shorter)")
    parts: list[UploadPart] = Field(description="Presigned PUTs for multipart uploads, in order")
    complete_url: str | None = Field(description="POST the parts' ETags here when all parts are in")
    expires_at: datetime = Field(description="When the presigned URLs stop working")


class CompletedPart(BaseModel):
    """A part the client uploaded, with the ETag S3 returned for it."""

    model_config = ConfigDict(extra="forbid")

    part_number: int = Field(ge=1, le=S3_MAX_PARTS)
    etag: str = Field(min_length=1, max_length=256)


class UploadComplete(BaseModel):
    """Finish a multipart upload."""

    model_config = ConfigDict(extra="forbid")

    parts: list[CompletedPart] = Field(min_length=1, max_length=S3_MAX_PARTS)

    @field_validator("parts")
    @classmethod
    def _unique_part_numbers(cls, parts: list[CompletedPart]) -> list[CompletedPart]:
        if len({p.part_number for p in parts}) != len(parts):
            raise ValueError("each part_number may appear once")
        return parts


class Deleted(BaseModel):
    """Compox's answer to a delete."""

    detail: str


class ObjectCreated(BaseModel):
    """One S3 ObjectCreated notification record."""

    bucket: str
    key: str
    size: int

    @classmethod
    def from_s3_event(cls, event: dict[str, Any]) -> list[ObjectCreated]:
        """Parse an S3 notification event (keys arrive URL-encoded)."""
        return [
            cls(
                bucket=record["s3"]["bucket"]["name"],
                key=unquote_plus(record["s3"]["object"]["key"]),
                size=int(record["s3"]["object"].get("size", 0)),
            )
            for record in event.get("Records", [])
            if record.get("eventName", "").startswith("ObjectCreated")
        ]
