"""The `ingest` Lambda handler with real S3 ObjectCreated events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from stratus.models import FileStatus, UploadCreate
from stratus.services import files as service
from stratus.settings import Settings
from stratus.stores import Stores, build_stores


def _pending_upload(stores: Stores, settings: Settings, body: bytes) -> str:
    upload = service.start_upload(UploadCreate(size=len(body)), "local", stores, settings)
    key = f"uploads/{upload.file_id}"
    boto3.client("s3").put_object(Bucket=settings.data_bucket, Key=key, Body=body)
    return key


@pytest.mark.parametrize("event_name", ["s3/object_created", "s3/object_created_multipart"])
def test_handler_marks_valid_upload_ready(
    function_handler,
    load_event: Callable[..., dict[str, Any]],
    lambda_context,
    stores: Stores,
    settings: Settings,
    hdf5_file,
    event_name: str,
) -> None:
    key = _pending_upload(stores, settings, hdf5_file(10_000))

    result = function_handler("ingest")(
        load_event(event_name, bucket=settings.data_bucket, key=key), lambda_context
    )

    assert result == {"files": {key: "READY"}}
    # The handler runs on the real clock: read back with the same.
    assert build_stores(settings).files.get(key.split("/")[1]).status is FileStatus.READY


def test_handler_is_idempotent_for_repeated_event(
    function_handler,
    load_event: Callable[..., dict[str, Any]],
    lambda_context,
    stores: Stores,
    settings: Settings,
    hdf5_file,
) -> None:
    key = _pending_upload(stores, settings, hdf5_file())
    event = load_event("s3/object_created", bucket=settings.data_bucket, key=key)

    first = function_handler("ingest")(event, lambda_context)
    second = function_handler("ingest")(event, lambda_context)

    assert first == second == {"files": {key: "READY"}}


def test_handler_rejects_non_hdf5_upload(
    function_handler,
    load_event: Callable[..., dict[str, Any]],
    lambda_context,
    stores: Stores,
    settings: Settings,
) -> None:
    key = _pending_upload(stores, settings, b"definitely not hdf5")

    result = function_handler("ingest")(
        load_event("s3/object_created", bucket=settings.data_bucket, key=key), lambda_context
    )

    assert result == {"files": {key: "REJECTED"}}
    assert "not a valid HDF5" in (build_stores(settings).files.get(key.split("/")[1]).reason or "")
