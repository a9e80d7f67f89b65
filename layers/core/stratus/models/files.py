"""Files: uploaded or produced HDF5 data, addressed by id (Compox's data-store)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stratus.models.ids import UUID4_PATTERN
from stratus.models.records import TenantRecord

# Compox hands out uuid4 strings; we accept the canonical hex-with-dashes form only.
# File ids are uuid4 strings (models.ids); the S3 layout finds them in upload keys with this pattern.
FILE_ID_PATTERN = UUID4_PATTERN

# S3's multipart limits: every part but the last at least 5 MiB, at most 5 GiB, at most 10,000 parts.
S3_MIN_PART_BYTES = 5 * 1024 * 1024
S3_MAX_PART_BYTES = 5 * 1024**3
S3_MAX_PARTS = 10_000
# The ETag S3 answers for an uploaded part: the hex digest, usually in double quotes.
PART_ETAG_PATTERN = r'^"?[0-9a-fA-F]{32}"?$'
# A file's own name as uploaded ("prices.csv"): no folders, no control characters.
FILE_NAME_PATTERN = r"^[^/\\\x00-\x1f\x7f]+$"
FILE_NAME_MAX_CHARS = 255


class FileStatus(StrEnum):
    """Where a file is in its life: uploads start PENDING until ingestion validates them."""

    PENDING = "PENDING"
    READY = "READY"
    REJECTED = "REJECTED"


class FileFormat(StrEnum):
    """What an upload's bytes are: HDF5 is stored as sent; tables are converted to HDF5 at ingestion."""

    HDF5 = "hdf5"
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"


# The allowed status changes, source → targets; everything else is an IllegalTransitionError.
FILE_TRANSITIONS: dict[FileStatus, frozenset[FileStatus]] = {
    FileStatus.PENDING: frozenset({FileStatus.READY, FileStatus.REJECTED}),
    FileStatus.READY: frozenset(),
    FileStatus.REJECTED: frozenset(),
}


def sources_of(target: FileStatus) -> frozenset[FileStatus]:
    """Statuses from which ``target`` may be reached."""
    return frozenset(s for s, targets in FILE_TRANSITIONS.items() if target in targets)


class UploadPlan(BaseModel):
    """What a presigned upload announced, decided when it starts: its exact size and, for a multipart
    upload, the bytes per part. The presigned URLs are signed for these lengths; completing and
    ingesting check against them."""

    size: int
    part_size: int | None = None

    def part_sizes(self) -> list[int]:
        """Bytes of each part, in part-number order (the last may be shorter); empty for a single PUT."""
        if self.part_size is None:
            return []
        full, rest = divmod(self.size, self.part_size)
        return [self.part_size] * full + ([rest] if rest else [])


class HDF5Dataset(BaseModel):
    """One dataset of a file, as read from the file's headers."""

    name: str = Field(description="The dataset's path in the file, e.g. /image")
    shape: list[int] | None = Field(description="Its shape ([] for a scalar); null for an empty dataset")
    dtype: str = Field(description="numpy's name for its type (float32, uint8, …); string for text")
    chunks: list[int] | None = Field(description="Its chunk shape; null when stored contiguous")
    filters: list[str] = Field(
        description="Its filter pipeline in order (e.g. shuffle, zstd); unknown ones as 'filter <id>'"
    )


class FileContents(BaseModel):
    """The datasets of a file, as many as a record holds."""

    datasets: list[HDF5Dataset]
    truncated: bool = Field(description="True when the file has more datasets than are listed")


class FileRecord(TenantRecord):
    """A file as stored in the table (internal)."""

    file_id: str
    status: FileStatus
    s3_key: str
    expires_at: int
    size: int | None = None
    reason: str | None = None
    upload: UploadPlan | None = None
    # S3's id of the multipart upload while its parts come in; removed once completed or settled.
    upload_id: str | None = None
    # Set when the multipart upload was assembled: a second complete is refused.
    completed_at: float | None = None
    # The S3 version of s3_key that is this file (the one ingestion validated, or the one we wrote).
    # Every read names it, so a later PUT to the same key (a presigned URL used again) changes nothing.
    version_id: str | None = None
    # Jobs and samples using the file, as "<kind>#<id>" (a DynamoDB string set; absent when empty). While
    # any holds it, expires_at is pushed out and own_expires_at keeps the file's own expiry for the last
    # release.
    held_by: frozenset[str] = frozenset()
    own_expires_at: int | None = None
    # What the bytes are, for the step cache: "sha256:…" of bytes we stored, or "etag:…" (S3's ETag: the
    # MD5 of a single-part upload, of the parts for a multipart one) of bytes a client sent to S3.
    content_hash: str | None = None
    # What the file holds, read when it became READY (absent on files from before it was recorded).
    datasets: list[HDF5Dataset] | None = None
    datasets_truncated: bool = False
    # The name it was uploaded under, and the format of the bytes sent: a table (CSV, JSON, XLSX) is
    # stored converted, so s3_key then holds HDF5 written by ingestion (stratus.tables).
    name: str | None = None
    source_format: FileFormat = FileFormat.HDF5


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
    name: str | None = Field(default=None, description="The name it was uploaded under, if one was given")
    source_format: FileFormat = Field(
        default=FileFormat.HDF5,
        description="The format it was uploaded in; CSV, JSON and XLSX are stored converted to HDF5",
    )

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
            name=record.name,
            source_format=record.source_format,
        )


class FileDetail(File):
    """A file's metadata with what it holds (the status route's answer)."""

    datasets: list[HDF5Dataset] | None = Field(
        description="Every dataset with its shape, dtype, chunks and filters, once READY; null for files "
        "stored before Stratus recorded them"
    )
    datasets_truncated: bool = Field(
        description="True when the file holds more datasets than are listed (the list stops at 256, or "
        "sooner for long names)"
    )

    @classmethod
    def from_record(cls, record: FileRecord) -> FileDetail:
        """Shape a stored record for clients, with its datasets."""
        return cls(
            **File.from_record(record).model_dump(),
            datasets=record.datasets,
            datasets_truncated=record.datasets_truncated,
        )


class FilePage(BaseModel):
    """One page of files, newest first."""

    items: list[File]
    next_cursor: str | None


class UploadCreate(BaseModel):
    """Ask for a presigned upload of a file of ``size`` bytes."""

    # Strict: "100" is not a size.
    model_config = ConfigDict(extra="forbid", strict=True)

    size: int = Field(
        gt=0, description="Exact size of the file in bytes; the URLs accept exactly this many, in all"
    )
    part_size: int | None = Field(
        default=None,
        ge=S3_MIN_PART_BYTES,
        le=S3_MAX_PART_BYTES,
        description="Force a multipart upload with parts of this many bytes (S3 takes 5 MiB to 5 GiB)",
    )
    name: str | None = Field(
        default=None,
        max_length=FILE_NAME_MAX_CHARS,
        pattern=FILE_NAME_PATTERN,
        description="The file's name (kept on the file); its extension .csv, .json or .xlsx makes it a table",
    )
    format: FileFormat | None = Field(
        default=None,
        # Lax for this one field: FastAPI validates the parsed body as Python data, where a strict enum
        # takes only FileFormat instances, never the "csv" a client sends.
        strict=False,
        description="What the bytes are (default: from the name's extension, else hdf5); csv, json and "
        "xlsx are converted to HDF5 at ingestion",
    )


class UploadPart(BaseModel):
    """One presigned part of a multipart upload."""

    part_number: int
    size: int = Field(description="Bytes this part must carry: its URL is signed for exactly this length")
    url: str


class Upload(BaseModel):
    """Where to send the bytes: one PUT to ``upload_url``, or one PUT per part then ``complete``."""

    file_id: str
    upload_url: str | None = Field(
        description="Presigned PUT for single-request uploads, signed for exactly the declared size"
    )
    part_size: int | None = Field(description="Bytes per part (the last may be shorter)")
    parts: list[UploadPart] = Field(description="Presigned PUTs for multipart uploads, in order")
    complete_url: str | None = Field(description="POST the parts' ETags here when all parts are in")
    expires_at: datetime = Field(description="When the presigned URLs stop working")


class CompletedPart(BaseModel):
    """A part the client uploaded, with the ETag S3 returned for it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    part_number: int = Field(ge=1, le=S3_MAX_PARTS)
    etag: str = Field(pattern=PART_ETAG_PATTERN, description="The part's ETag header, as S3 answered it")


class UploadComplete(BaseModel):
    """Finish a multipart upload: every part of the plan, each once."""

    model_config = ConfigDict(extra="forbid", strict=True)

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
    # The version the event is about (S3 names it for versioned buckets; moto's events do not).
    version_id: str | None = None

    @classmethod
    def from_s3_event(cls, event: dict[str, Any]) -> list[ObjectCreated]:
        """Parse an S3 notification event (keys arrive URL-encoded)."""
        return [
            cls(
                bucket=record["s3"]["bucket"]["name"],
                key=unquote_plus(record["s3"]["object"]["key"]),
                size=int(record["s3"]["object"].get("size", 0)),
                version_id=record["s3"]["object"].get("versionId"),
            )
            for record in event.get("Records", [])
            if record.get("eventName", "").startswith("ObjectCreated")
        ]
