"""The `ingest` Lambda handler with real S3 ObjectCreated events."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3
import h5py
import hdf5plugin
import numpy as np
import pytest
from stratus import hdf5
from stratus.models import FileStatus, UploadCreate
from stratus.services import files as service
from stratus.settings import Settings
from stratus.stores import Stores, build_stores


def _pending_upload(stores: Stores, settings: Settings, body: bytes, declared: int | None = None) -> str:
    """A presigned upload of ``declared`` bytes (else ``len(body)``) whose PUT sent ``body``; its key."""
    upload = service.start_upload(UploadCreate(size=declared or len(body)), "local", stores, settings)
    key = f"uploads/{upload.file_id}"
    _put(settings, key, body)
    return key


def _put(settings: Settings, key: str, body: bytes) -> str:
    """PUT ``body`` to ``key``; returns the new version's id."""
    version_id: str = boto3.client("s3").put_object(Bucket=settings.data_bucket, Key=key, Body=body)[
        "VersionId"
    ]
    return version_id


def _current_version(settings: Settings, key: str) -> str:
    version_id: str = boto3.client("s3").head_object(Bucket=settings.data_bucket, Key=key)["VersionId"]
    return version_id


Ingest = Callable[..., dict[str, Any]]


@pytest.fixture
def ingest(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context, settings: Settings
) -> Ingest:
    """Send the ingest handler S3's event for ``key`` (its current version unless ``version_id``); its
    answer."""
    handler = function_handler("ingest")

    def send(
        key: str, version_id: str | None = None, event_name: str = "s3/object_created"
    ) -> dict[str, Any]:
        version_id = version_id or _current_version(settings, key)
        event = load_event(event_name, bucket=settings.data_bucket, key=key, version_id=version_id)
        result: dict[str, Any] = handler(event, lambda_context)
        return result

    return send


@pytest.mark.parametrize("event_name", ["s3/object_created", "s3/object_created_multipart"])
def test_handler_marks_valid_upload_ready(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
    hdf5_file,
    event_name: str,
) -> None:
    key = _pending_upload(stores, settings, hdf5_file(10_000))

    result = ingest(key, event_name=event_name)

    assert result == {"files": {key: "READY"}}
    # The handler runs on the real clock: read back with the same.
    assert build_stores(settings).files.get(key.split("/")[1]).status is FileStatus.READY


def test_handler_is_idempotent_for_repeated_event(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
    hdf5_file,
) -> None:
    key = _pending_upload(stores, settings, hdf5_file())
    version_id = _current_version(settings, key)

    first = ingest(key, version_id)
    second = ingest(key, version_id)

    assert first == second == {"files": {key: "READY"}}


def test_handler_rejects_non_hdf5_upload(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
) -> None:
    key = _pending_upload(stores, settings, b"definitely not hdf5")

    result = ingest(key)

    assert result == {"files": {key: "REJECTED"}}
    assert "not a valid HDF5" in (build_stores(settings).files.get(key.split("/")[1]).reason or "")


def test_handler_rejects_upload_of_another_size_than_declared(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
    hdf5_file,
) -> None:
    key = _pending_upload(stores, settings, hdf5_file(2**20), declared=100)

    result = ingest(key)

    assert result == {"files": {key: "REJECTED"}}
    assert "the upload declared 100" in (build_stores(settings).files.get(key.split("/")[1]).reason or "")


def test_handler_keeps_a_ready_file_when_its_url_is_used_again(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
    hdf5_file,
) -> None:
    body = hdf5_file(seed=1)
    key = _pending_upload(stores, settings, body)
    first = _current_version(settings, key)
    ingest(key, first)
    second = _put(settings, key, hdf5_file(seed=2))

    result = ingest(key, second)

    file = build_stores(settings).files.get(key.split("/")[1])
    assert result == {"files": {key: "READY"}}
    assert file.version_id == first
    assert build_stores(settings).objects.get(key) == body


# Files as scientists write them: create_dataset(..., **hdf5plugin.Zstd()) and friends.
COMPRESSIONS = {
    "blosc": hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE),
    "lz4": hdf5plugin.LZ4(),
    "zstd": hdf5plugin.Zstd(clevel=3),
    "bitshuffle": hdf5plugin.Bitshuffle(cname="lz4"),
    "blosc2": hdf5plugin.Blosc2(),
    "bzip2": hdf5plugin.BZip2(),
}


def _compressed(**options: Any) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        data = np.random.default_rng(0).random((16, 32, 32), dtype=np.float32)
        handle.create_dataset("image", data=data, chunks=(4, 32, 32), **options)
        handle.create_dataset("labels", data=np.arange(10, dtype=np.uint16))
    return buffer.getvalue()


def _ingested(body: bytes, ingest: Ingest, stores: Stores, settings: Settings) -> dict[str, Any]:
    """Upload ``body`` through a presigned upload, run the ingest handler, and GET the file's status."""
    key = _pending_upload(stores, settings, body)
    ingest(key)
    return build_stores(settings).files.get(key.split("/")[1]).model_dump()


@pytest.mark.parametrize("name", COMPRESSIONS)
def test_handler_accepts_hdf5plugin_compressed_files_and_records_their_datasets(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
    name: str,
) -> None:
    body = _compressed(**COMPRESSIONS[name])

    record = _ingested(body, ingest, stores, settings)

    assert record["status"] is FileStatus.READY, record["reason"]
    assert record["datasets"] == [
        {
            "name": "/image",
            "shape": [16, 32, 32],
            "dtype": "float32",
            "chunks": [4, 32, 32],
            "filters": [name],
        },
        {"name": "/labels", "shape": [10], "dtype": "uint16", "chunks": None, "filters": []},
    ]
    assert record["datasets_truncated"] is False


def test_handler_records_the_first_datasets_of_a_file_with_many(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
) -> None:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for index in range(hdf5.MAX_LISTED_DATASETS + 44):
            handle.create_dataset(
                f"group/slice{index:04d}", data=np.zeros(4, np.float32), **hdf5plugin.Zstd()
            )

    record = _ingested(buffer.getvalue(), ingest, stores, settings)

    assert record["status"] is FileStatus.READY
    assert len(record["datasets"]) == hdf5.MAX_LISTED_DATASETS
    assert record["datasets"][0]["name"] == "/group/slice0000"
    assert record["datasets_truncated"] is True


# Tables: a CSV, JSON or XLSX upload is converted to HDF5, stored under the file's own key.
def _table_upload(stores: Stores, settings: Settings, body: bytes, name: str) -> tuple[str, str]:
    """A presigned upload of a table named ``name`` whose PUT sent ``body``; its file id and key."""
    upload = service.start_upload(UploadCreate(size=len(body), name=name), "local", stores, settings)
    key = f"uploads/{upload.file_id}"
    _put(settings, key, body)
    return upload.file_id, key


def _versions(settings: Settings, key: str) -> list[str]:
    listing = boto3.client("s3").list_object_versions(Bucket=settings.data_bucket, Prefix=key)
    return [v["VersionId"] for v in listing.get("Versions", []) if v["Key"] == key]


def test_handler_converts_an_uploaded_csv_to_hdf5_under_the_files_key(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
) -> None:
    file_id, key = _table_upload(stores, settings, b"sku,price\na,1.5\nb,2\n", "prices.csv")

    result = ingest(key)

    record = build_stores(settings).files.get(file_id)
    assert result == {"files": {key: "READY"}}
    assert (record.s3_key, record.source_format, record.name) == (f"files/{file_id}", "csv", "prices.csv")
    assert record.datasets is not None
    assert [(d.name, d.shape, d.dtype) for d in record.datasets] == [
        ("/prices", [2], "compound(sku string, price float64)")
    ]
    with h5py.File(io.BytesIO(service.read_bytes(record, build_stores(settings))), "r") as handle:
        assert handle["prices"]["price"].tolist() == [1.5, 2.0]
    assert record.size == len(service.read_bytes(record, build_stores(settings)))
    assert (record.content_hash or "").startswith("sha256:")
    assert _versions(settings, key) == []


def test_handler_rejects_a_bad_table_naming_row_and_column_and_keeps_nothing(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
) -> None:
    file_id, key = _table_upload(stores, settings, b"sku,price\na,1.5\nb,cheap\n", "prices.csv")

    result = ingest(key)

    record = build_stores(settings).files.get(file_id)
    assert result == {"files": {key: "REJECTED"}}
    assert record.reason == "row 3, column 'price': expected a number, got 'cheap'"
    assert _versions(settings, key) == []
    assert _versions(settings, f"files/{file_id}") == []


def test_handler_converts_a_table_once_when_the_event_comes_twice(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
) -> None:
    file_id, key = _table_upload(stores, settings, b'[{"n": 1}]', "rows.json")
    version_id = _current_version(settings, key)
    ingest(key, version_id)
    first = build_stores(settings).files.get(file_id)

    second = ingest(key, version_id)

    assert second == {"files": {key: "READY"}}
    assert build_stores(settings).files.get(file_id) == first
    assert _versions(settings, f"files/{file_id}") == [first.version_id]


def test_handler_keeps_a_converted_table_when_its_url_is_used_again(
    ingest: Ingest,
    stores: Stores,
    settings: Settings,
) -> None:
    file_id, key = _table_upload(stores, settings, b"a\n1\n", "t.csv")
    ingest(key)
    first = build_stores(settings).files.get(file_id)
    _put(settings, key, b"a\n2\n")

    result = ingest(key)

    assert result == {"files": {key: "READY"}}
    assert build_stores(settings).files.get(file_id) == first
    assert _versions(settings, key) == []
