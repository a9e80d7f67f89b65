"""The local stack's state folder: its table's items and its data bucket's objects, saved and restored
through the DynamoDB and S3 APIs, so `make dev` keeps files, records and algorithms across restarts.

moto holds everything in memory, and its S3 keeps bytes in spooled temporary files: nothing survives its
process. The folder is written only through the services' public APIs (Scan, ListObjectVersions,
GetObject) and read back the same way (BatchWriteItem, PutObject), so it needs no moto internals and
survives moto upgrades. Layout (one commit point: the manifest, replaced atomically):

    state.json              format, stack name, the items file, every object version and its blob
    items-<digest>.jsonl    the table's items in DynamoDB's JSON, one a line
    objects/<name>          one object version's bytes (written once: a version never changes)
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import shutil
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

DEFAULT_STATE_DIR = Path(".local-stack") / "state"
# A kill -9 loses at most this much; a save that finds nothing changed writes nothing.
SAVE_INTERVAL_S = 30.0
FORMAT_VERSION = 1
MANIFEST = "state.json"
OBJECTS = "objects"
_ITEMS_PREFIX = "items-"
# BatchWriteItem takes at most 25 items a call, and may hand some back unprocessed.
MAX_BATCH_WRITE = 25
_MAX_WRITE_ROUNDS = 8
# JSON has no bytes: a binary attribute value (B, BS) is written as this one-key object.
_BYTES = "__stratus_bytes__"

Item = dict[str, Any]


class StateError(RuntimeError):
    """The state folder cannot be restored into this stack (another stack's, or a newer format)."""


@dataclass(frozen=True)
class Restored:
    """What a restore put back: object versions, items, and expired items left out."""

    objects: int = 0
    records: int = 0
    expired: int = 0
    items: tuple[Item, ...] = ()


@dataclass(frozen=True)
class _Version:
    """One saved object version: where its bytes are and what PutObject needs to write it again."""

    key: str
    version_id: str | None
    latest: bool
    blob: str
    content_type: str | None
    metadata: dict[str, str]
    tags: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


class StateFolder:
    """One stack's state in ``root``: its table (``table_name``) and its data bucket (``bucket``)."""

    def __init__(
        self,
        root: Path,
        stack_name: str,
        dynamodb: Any,
        s3: Any,
        table_name: str,
        bucket: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self._stack_name = stack_name
        self._dynamodb = dynamodb
        self._s3 = s3
        self._table = table_name
        self._bucket = bucket
        self._clock = clock
        self._lock = threading.Lock()

    # --- on start ---------------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget the saved state (`--fresh`): only our own files go, whatever else the folder holds."""
        (self.root / MANIFEST).unlink(missing_ok=True)
        for path in self.root.glob(f"{_ITEMS_PREFIX}*"):
            path.unlink()
        shutil.rmtree(self.root / OBJECTS, ignore_errors=True)

    def restore(self) -> Restored:
        """Put the saved objects, then the saved items (not the expired ones), into the fresh stack.

        The bucket's notifications are off meanwhile, so restored uploads are not ingested again; the
        objects get new version ids, which replace the old ones wherever an item names them.
        Raises StateError.
        """
        manifest = self._read_manifest()
        if manifest is None:
            return Restored()
        versions = [_Version(**entry) for entry in manifest["objects"]]
        renamed = self._restore_objects(versions, manifest["deleted"])
        items, expired = [], 0
        for item in _read_items(self.root / manifest["items"]):
            if _is_expired(item, self._clock()):
                expired += 1
            else:
                items.append(_renamed(item, renamed))
        self._write_items(items)
        # The folder now matches the stack: the next save writes only what changes from here on.
        restored = [
            dataclasses.replace(v, version_id=renamed[v.version_id]) if v.version_id in renamed else v
            for v in versions
        ]
        lines = _encode_items(items)
        _write_atomically(self.root / _items_file(lines), lines)
        self._commit(_items_file(lines), restored, manifest["deleted"])
        return Restored(objects=len(versions), records=len(items), expired=expired, items=tuple(items))

    # --- while it runs, and on stop ---------------------------------------------------------------

    def save(self) -> bool:
        """Write the table's items and the bucket's object versions; whether anything had changed."""
        with self._lock:
            manifest = self._read_manifest()
            # Items first: each version an item names was made before it, so the listing below has it.
            items = [item for item in self._scan() if not _is_expired(item, self._clock())]
            lines = _encode_items(items)
            items_file = _items_file(lines)
            known = {(v["key"], v["version_id"]): _Version(**v) for v in (manifest or {}).get("objects", [])}
            listed, deleted = self._list_versions()
            versions = [self._saved(key, version_id, latest, known) for key, version_id, latest in listed]
            if (
                manifest
                and manifest["items"] == items_file
                and manifest["objects"] == [v.to_json() for v in versions]
                and manifest["deleted"] == deleted
            ):
                return False
            if not (self.root / items_file).exists():
                _write_atomically(self.root / items_file, lines)
            self._commit(items_file, versions, deleted)
            return True

    def saving(self, interval: float = SAVE_INTERVAL_S) -> _Saver:
        """A thread that saves every ``interval`` seconds until stopped."""
        return _Saver(self, interval)

    # --- the table --------------------------------------------------------------------------------

    def _scan(self) -> Iterator[Item]:
        pages = self._dynamodb.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True)
        for page in pages:
            yield from page.get("Items", [])

    def _write_items(self, items: list[Item]) -> None:
        for start in range(0, len(items), MAX_BATCH_WRITE):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + MAX_BATCH_WRITE]]
            for _ in range(_MAX_WRITE_ROUNDS):
                left = self._dynamodb.batch_write_item(RequestItems={self._table: requests})
                requests = left.get("UnprocessedItems", {}).get(self._table, [])
                if not requests:
                    break
            else:
                raise StateError(f"DynamoDB kept {len(requests)} items unprocessed while restoring")

    # --- the bucket -------------------------------------------------------------------------------

    def _list_versions(self) -> tuple[list[tuple[str, str | None, bool]], list[str]]:
        """Every object version as (key, version id, is it current), and the keys deleted last."""
        versions: list[tuple[str, str | None, bool]] = []
        deleted: list[str] = []
        for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=self._bucket):
            for version in page.get("Versions", []):
                version_id = version.get("VersionId")
                versions.append(
                    (version["Key"], None if version_id == "null" else version_id, version["IsLatest"])
                )
            deleted.extend(marker["Key"] for marker in page.get("DeleteMarkers", []) if marker["IsLatest"])
        return versions, sorted(set(deleted))

    def _saved(
        self, key: str, version_id: str | None, latest: bool, known: dict[tuple[str, str | None], _Version]
    ) -> _Version:
        """A version as saved: the known entry (its bytes never change), else one downloaded now."""
        if (key, version_id) in known:
            return dataclasses.replace(known[(key, version_id)], latest=latest)
        blob = hashlib.sha256(f"{key}\0{version_id}".encode()).hexdigest()[:32]
        versioned = {} if version_id is None else {"VersionId": version_id}
        response = self._s3.get_object(Bucket=self._bucket, Key=key, **versioned)
        path = self.root / OBJECTS / blob
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("wb") as target:
            shutil.copyfileobj(response["Body"], target, 1024 * 1024)
        partial.replace(path)
        tags = self._s3.get_object_tagging(Bucket=self._bucket, Key=key, **versioned)["TagSet"]
        return _Version(
            key=key,
            version_id=version_id,
            latest=latest,
            blob=blob,
            content_type=response.get("ContentType"),
            metadata=response.get("Metadata", {}),
            tags={tag["Key"]: tag["Value"] for tag in tags},
        )

    def _restore_objects(self, versions: list[_Version], deleted: list[str]) -> dict[str, str]:
        """PutObject every saved version (a key's current one last, so it is current again); old →
        new version id."""
        renamed: dict[str, str] = {}
        with self._notifications_off():
            for version in sorted(versions, key=lambda v: v.latest):
                extra: dict[str, Any] = {"Metadata": version.metadata}
                if version.content_type:
                    extra["ContentType"] = version.content_type
                if version.tags:
                    extra["Tagging"] = urllib.parse.urlencode(version.tags)
                with (self.root / OBJECTS / version.blob).open("rb") as body:
                    put = self._s3.put_object(Bucket=self._bucket, Key=version.key, Body=body, **extra)
                if version.version_id is not None and put.get("VersionId"):
                    renamed[version.version_id] = put["VersionId"]
            for key in deleted:
                self._s3.delete_object(Bucket=self._bucket, Key=key)
        return renamed

    @contextlib.contextmanager
    def _notifications_off(self) -> Iterator[None]:
        # Restored uploads are files already ingested: their ObjectCreated events must not run ingestion
        # again (it would find their records missing, as the items come after, and delete the bytes).
        current = self._s3.get_bucket_notification_configuration(Bucket=self._bucket)
        current.pop("ResponseMetadata", None)
        self._s3.put_bucket_notification_configuration(Bucket=self._bucket, NotificationConfiguration={})
        try:
            yield
        finally:
            self._s3.put_bucket_notification_configuration(
                Bucket=self._bucket, NotificationConfiguration=current
            )

    # --- the manifest -----------------------------------------------------------------------------

    def _read_manifest(self) -> dict[str, Any] | None:
        path = self.root / MANIFEST
        if not path.exists():
            return None
        manifest: dict[str, Any] = json.loads(path.read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise StateError(
                f"{path} has state format {manifest.get('format')}, this stack reads {FORMAT_VERSION}: "
                "start with --fresh (or another STRATUS_LOCAL_STATE_DIR)"
            )
        if manifest.get("stack_name") != self._stack_name:
            raise StateError(
                f"{path} holds stack '{manifest.get('stack_name')}', not '{self._stack_name}': start with "
                "--fresh (or another STRATUS_LOCAL_STATE_DIR)"
            )
        return manifest

    def _commit(self, items_file: str, versions: list[_Version], deleted: list[str]) -> None:
        """Replace the manifest (the one commit point), then drop files it no longer names."""
        manifest = {
            "format": FORMAT_VERSION,
            "stack_name": self._stack_name,
            "saved_at": self._clock(),
            "items": items_file,
            "objects": [v.to_json() for v in versions],
            "deleted": deleted,
        }
        _write_atomically(self.root / MANIFEST, json.dumps(manifest, indent=1).encode())
        for path in self.root.glob(f"{_ITEMS_PREFIX}*"):
            if path.name != items_file:
                path.unlink()
        blobs = {v.blob for v in versions}
        for path in (self.root / OBJECTS).glob("*"):
            if path.name not in blobs:
                path.unlink()


class _Saver:
    """Saves a state folder every ``interval`` seconds in a daemon thread, until stopped."""

    def __init__(self, state: StateFolder, interval: float) -> None:
        self._state = state
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-state-saver", daemon=True)

    def __enter__(self) -> _Saver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._state.save()
            except (ClientError, BotoCoreError, OSError) as exc:
                # The next round tries again; the final save on stop reports its own failure.
                print(f"saving the local stack's state failed: {exc}", file=sys.stderr, flush=True)  # noqa: T201


def _is_expired(item: Item, now: float) -> bool:
    # Reads treat `expires_at <= now` as absent (stores/base.py); a restore leaves such items out.
    expires_at = item.get("expires_at", {}).get("N")
    return expires_at is not None and float(expires_at) <= now


def _renamed(value: Any, renamed: dict[str, str]) -> Any:
    """An attribute value with every string that is an old version id replaced by the new one (version
    ids are random uuids: no other value equals one)."""
    if isinstance(value, dict):
        if set(value) == {"S"} and isinstance(value["S"], str):
            return {"S": renamed.get(value["S"], value["S"])}
        return {name: _renamed(inner, renamed) for name, inner in value.items()}
    if isinstance(value, list):
        return [_renamed(inner, renamed) for inner in value]
    return value


def _items_file(lines: bytes) -> str:
    """The items file's name: by its content, so a manifest never names a file that changed."""
    return f"{_ITEMS_PREFIX}{hashlib.sha256(lines).hexdigest()[:32]}.jsonl"


def _encode_items(items: list[Item]) -> bytes:
    return b"".join(
        json.dumps(item, default=_encode_bytes, sort_keys=True).encode() + b"\n" for item in items
    )


def _encode_bytes(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {_BYTES: base64.b64encode(value).decode()}
    raise TypeError(f"cannot save a {type(value).__name__} in the state folder")


def _decode_bytes(value: dict[str, Any]) -> Any:
    if set(value) == {_BYTES}:
        return base64.b64decode(value[_BYTES])
    return value


def _read_items(path: Path) -> Iterator[Item]:
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line, object_hook=_decode_bytes)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)
