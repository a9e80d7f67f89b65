"""ObjectStore: the data bucket's objects, presigned URLs and multipart uploads."""

from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from botocore.exceptions import BotoCoreError, ClientError

from stratus.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, ObjectIdentifierTypeDef

# The bucket's lifecycle rules expire objects by this tag's value (template.yaml, DataBucket).
LIFETIME_TAG = "stratus-lifetime"
TEMPORARY = "temporary"
# An input of a running job: kept longer, but still bounded, should its release be lost.
HELD = "held"
# A file a sample references: no lifecycle rule matches, so it stays until the last sample goes.
PINNED = "pinned"
# Ranged reads fetch whole blocks: h5py asks for many small pieces of metadata.
READ_BLOCK_BYTES = 1024 * 1024
MAX_CACHED_BLOCKS = 64  # at most 64 MiB of one object in memory
# How S3 says an object is not there: GetObject answers NoSuchKey (NoSuchVersion for a version that is
# gone), HEAD requests a bare 404.
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404"})
# What clients get when they fetch a file through a presigned GET, whatever type its PUT declared: a
# browser never renders an upload (an HDF5 user block can hold HTML) from the bucket's origin.
DOWNLOAD_CONTENT_TYPE = "application/octet-stream"
# DeleteObjects takes at most 1000 keys a call.
MAX_DELETE_KEYS = 1000
# S3's answers to a CompleteMultipartUpload it refuses: parts that do not match what was uploaded, or an
# upload no longer there (aborted by the lifecycle rule after a day).
REFUSED_PARTS_CODES = frozenset(
    {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "MalformedXML"}
)


@dataclass(frozen=True)
class ObjectVersion:
    """One version of an object: its id (None in a bucket without versioning) and size."""

    version_id: str | None
    size: int
    etag: str | None = None


class ObjectStore:
    """One bucket's objects."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put_temporary(self, key: str, body: bytes) -> str | None:
        """Store bytes tagged to expire through the bucket's lifecycle rule; returns their version id."""
        response = self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType="application/x-hdf5",
            Tagging=f"{LIFETIME_TAG}={TEMPORARY}",
        )
        return response.get("VersionId")

    def put(self, key: str, body: bytes) -> None:
        """Store bytes that never expire (algorithm code and assets)."""
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body)

    def upload_file(self, key: str, path: Path) -> None:
        """Store a local file that never expires (an environment's zip), in parts when it is large."""
        self._s3.upload_file(str(path), self._bucket, key)

    def download_file(self, key: str, path: Path) -> None:
        """Write an object to a local file, streamed. Raises NotFoundError."""
        with _missing_as_not_found(f"object {key} not found"):
            self._s3.download_file(self._bucket, key, str(path))

    def is_reachable(self) -> bool:
        """Whether the bucket answers (HeadBucket: no object is read)."""
        try:
            self._s3.head_bucket(Bucket=self._bucket)
        except (ClientError, BotoCoreError):
            return False
        return True

    def exists(self, key: str) -> bool:
        """Whether an object is there."""
        try:
            with _missing_as_not_found("object not found"):
                self._s3.head_object(Bucket=self._bucket, Key=key)
        except NotFoundError:
            return False
        return True

    def tag_temporary(self, key: str, version_id: str | None = None) -> None:
        """Tag an existing object (version) to expire through the lifecycle rule. Raises NotFoundError."""
        self._tag_lifetime(key, TEMPORARY, version_id)

    def tag_lifetime(self, key: str, lifetime: str, version_id: str | None = None) -> None:
        """Tag an existing object (version) with a lifetime (TEMPORARY, HELD or PINNED).

        Raises NotFoundError.
        """
        self._tag_lifetime(key, lifetime, version_id)

    def _tag_lifetime(self, key: str, lifetime: str, version_id: str | None) -> None:
        # PutObjectTagging replaces the whole tag set; the lifetime tag is the only one we set.
        with _missing_as_not_found("file content not found"):
            self._s3.put_object_tagging(
                Bucket=self._bucket,
                Key=key,
                Tagging={"TagSet": [{"Key": LIFETIME_TAG, "Value": lifetime}]},
                **_version(version_id),
            )

    def get(self, key: str, version_id: str | None = None) -> bytes:
        """Read a whole object (the given version, else the current one). Raises NotFoundError."""
        with _missing_as_not_found("file content not found"):
            return self._s3.get_object(Bucket=self._bucket, Key=key, **_version(version_id))["Body"].read()

    def size(self, key: str, version_id: str | None = None) -> int:
        """Bytes in an object (version). Raises NotFoundError."""
        return self.head(key, version_id).size

    def head(self, key: str, version_id: str | None = None) -> ObjectVersion:
        """The given version of an object, else its current one. Raises NotFoundError."""
        with _missing_as_not_found("file content not found"):
            response = self._s3.head_object(Bucket=self._bucket, Key=key, **_version(version_id))
        return ObjectVersion(
            version_id=response.get("VersionId"), size=response["ContentLength"], etag=response.get("ETag")
        )

    def open_ranged(self, key: str, size: int, version_id: str | None = None) -> RangedReader:
        """A seekable read-only file over the object (version), fetched in blocks on demand."""
        return RangedReader(self._s3, self._bucket, key, size, version_id)

    def delete(self, key: str) -> None:
        """Delete an object (deleting a missing one is not an error in S3)."""
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def delete_versions(self, key: str, keep: str | None = None) -> None:
        """Delete every version (and delete marker) of exactly ``key``, except version ``keep``.

        With ``keep`` the kept version is current again: S3 makes the newest remaining version current.
        """
        pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=self._bucket, Prefix=key)
        doomed: list[ObjectIdentifierTypeDef] = [
            {"Key": key, "VersionId": entry["VersionId"]}
            for page in pages
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            # Prefix matches longer keys too.
            if entry["Key"] == key and entry["VersionId"] != keep
        ]
        for start in range(0, len(doomed), MAX_DELETE_KEYS):
            chunk = doomed[start : start + MAX_DELETE_KEYS]
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": chunk, "Quiet": True})

    def presign_get(
        self, key: str, expires_in: int, version_id: str | None = None, disposition: str | None = None
    ) -> str:
        """A presigned GET for an object (version), always answered as raw bytes (with ``disposition``
        as its Content-Disposition)."""
        params = {
            "Bucket": self._bucket,
            "Key": key,
            "ResponseContentType": DOWNLOAD_CONTENT_TYPE,
            **({"ResponseContentDisposition": disposition} if disposition else {}),
            **_version(version_id),
        }
        return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def presign_put(self, key: str, expires_in: int, size: int) -> str:
        """A presigned single-request PUT of exactly ``size`` bytes.

        Content-Length is a signed header, so S3 refuses a body of any other length at the door.
        """
        params = {"Bucket": self._bucket, "Key": key, "ContentLength": size}
        return self._s3.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)

    def start_multipart(self, key: str) -> str:
        """Begin a multipart upload; returns its upload id."""
        response = self._s3.create_multipart_upload(
            Bucket=self._bucket, Key=key, Tagging=f"{LIFETIME_TAG}={TEMPORARY}"
        )
        return response["UploadId"]

    def presign_part(self, key: str, upload_id: str, part_number: int, size: int, expires_in: int) -> str:
        """A presigned PUT of exactly ``size`` bytes for one part of a multipart upload (Content-Length is
        signed, as in presign_put)."""
        params = {
            "Bucket": self._bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "ContentLength": size,
        }
        return self._s3.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in)

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> None:
        """Assemble the (part number, ETag) parts. Raises InvalidInputError when S3 refuses them."""
        completed: list[CompletedPartTypeDef] = [{"PartNumber": n, "ETag": etag} for n, etag in sorted(parts)]
        try:
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": completed}
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in REFUSED_PARTS_CODES:
                raise InvalidInputError(f"S3 refused the parts: {code}") from exc
            raise

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an unfinished multipart upload and its parts (gone already is fine)."""
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchUpload":
                raise

    # --- Session items (stratus.sessions): user metadata and prefix listings ---

    def put_temporary_with_metadata(self, key: str, body: bytes, metadata: Mapping[str, str]) -> None:
        """Store bytes with user metadata, tagged to expire through the bucket's lifecycle rule."""
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            Metadata=dict(metadata),
            ContentType="application/octet-stream",
            Tagging=f"{LIFETIME_TAG}={TEMPORARY}",
        )

    def get_with_metadata(self, key: str) -> tuple[bytes, dict[str, str]]:
        """A whole object and its user metadata. Raises NotFoundError."""
        with _missing_as_not_found("object not found"):
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
        return response["Body"].read(), _user_metadata(response["Metadata"])

    def read_metadata(self, key: str) -> dict[str, str]:
        """An object's user metadata (one HEAD). Raises NotFoundError."""
        with _missing_as_not_found("object not found"):
            return _user_metadata(self._s3.head_object(Bucket=self._bucket, Key=key)["Metadata"])

    def list_sizes(self, prefix: str) -> dict[str, int]:
        """Key → bytes of every object under a prefix."""
        # ListObjectsV2 returns at most 1000 keys a page.
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix)
        return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}


class RangedReader(io.RawIOBase):
    """Read-only, seekable view of an S3 object, one cached block per ranged GET."""

    def __init__(self, s3: S3Client, bucket: str, key: str, size: int, version_id: str | None = None) -> None:
        super().__init__()
        self._s3, self._bucket, self._key, self._size = s3, bucket, key, size
        self._version_id = version_id
        self._pos = 0
        self._blocks: dict[int, bytes] = {}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            index, offset = divmod(self._pos, READ_BLOCK_BYTES)
            block = self._block(index)
            chunk = block[offset : offset + len(view) - done]
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
            self._pos += len(chunk)
        return done

    def _block(self, index: int) -> bytes:
        if index not in self._blocks:
            if len(self._blocks) >= MAX_CACHED_BLOCKS:
                self._blocks.pop(next(iter(self._blocks)))
            start = index * READ_BLOCK_BYTES
            end = min(start + READ_BLOCK_BYTES, self._size) - 1
            response = self._s3.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{end}", **_version(self._version_id)
            )
            self._blocks[index] = response["Body"].read()
        return self._blocks[index]


class _VersionArgument(TypedDict, total=False):
    VersionId: str


def _version(version_id: str | None) -> _VersionArgument:
    """The VersionId argument naming ``version_id``, or none for the current version (boto3 refuses None)."""
    return {} if version_id is None else {"VersionId": version_id}


def _user_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    # S3 stores user metadata names in lower case; moto's server answers them capitalised (Written-At).
    return {name.lower(): value for name, value in metadata.items()}


@contextmanager
def _missing_as_not_found(message: str) -> Iterator[None]:
    """Turn S3's answer for a missing object into NotFoundError(message); other errors pass."""
    try:
        yield
    except ClientError as exc:
        if exc.response["Error"]["Code"] in MISSING_CODES:
            raise NotFoundError(message) from exc
        raise
