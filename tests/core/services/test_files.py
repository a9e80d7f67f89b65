"""File use cases: direct upload, presigned uploads, idempotent ingestion, download, delete, holds."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest
from stratus.errors import (
    FileInUseError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    NotReadyError,
    PayloadTooLargeError,
)
from stratus.local.template import load_template
from stratus.models import FileStatus, ObjectCreated, UploadComplete, UploadCreate
from stratus.models.executions import ExecutionError
from stratus.services import files as service
from stratus.settings import Settings
from stratus.stores import Stores
from stratus.stores.files import file_key

from tests.conftest import TEMPLATE, MovableClock
from tests.gpu_worker.conftest import TENANT, new_execution

MiB = 1024 * 1024


def _put_upload(settings: Settings, key: str, body: bytes) -> ObjectCreated:
    boto3.client("s3").put_object(Bucket=settings.data_bucket, Key=key, Body=body)
    return ObjectCreated(bucket=settings.data_bucket, key=key, size=len(body))


def _tags(settings: Settings, key: str) -> dict[str, str]:
    tag_set = boto3.client("s3").get_object_tagging(Bucket=settings.data_bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def test_store_upload_keeps_bytes_tagged_to_expire(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    body = hdf5_file(20_000)

    record = service.store_upload(body, "t1", stores, settings)

    assert record.status is FileStatus.READY
    assert stores.objects.get(record.s3_key) == body
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "temporary"}


def test_store_upload_rejects_body_over_limit(stores: Stores, settings: Settings) -> None:
    with pytest.raises(PayloadTooLargeError, match="/api/v0/files/uploads"):
        service.store_upload(b"x" * (settings.max_direct_upload_bytes + 1), "t1", stores, settings)


def test_store_upload_writes_nothing_for_invalid_body(stores: Stores, settings: Settings) -> None:
    with pytest.raises(InvalidInputError):
        service.store_upload(b"not hdf5", "t1", stores, settings)

    assert stores.files.list_recent("t1", 10, None)[0] == []


def test_start_upload_small_file_gets_single_put(stores: Stores, settings: Settings) -> None:
    upload = service.start_upload(UploadCreate(size=1000), "t1", stores, settings)

    assert upload.upload_url and not upload.parts
    assert stores.files.get(upload.file_id).status is FileStatus.PENDING


def test_start_upload_large_file_gets_presigned_parts(stores: Stores, settings: Settings) -> None:
    size = settings.multipart_threshold_bytes + 1

    upload = service.start_upload(UploadCreate(size=size), "t1", stores, settings)

    assert upload.upload_url is None
    assert upload.part_size == settings.multipart_part_bytes
    assert len(upload.parts) == -(-size // settings.multipart_part_bytes)


def test_start_upload_rejects_file_over_max(stores: Stores, settings: Settings) -> None:
    with pytest.raises(PayloadTooLargeError):
        service.start_upload(UploadCreate(size=settings.max_upload_bytes + 1), "t1", stores, settings)


def test_ingest_marks_valid_upload_ready(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    upload = service.start_upload(UploadCreate(size=1), "t1", stores, settings)
    body = hdf5_file(3 * MiB)
    created = _put_upload(settings, f"uploads/{upload.file_id}", body)

    record = service.ingest_object(created, stores, settings)

    assert record is not None
    assert (record.status, record.size) == (FileStatus.READY, len(body))
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "temporary"}


def test_ingest_same_event_twice_gives_one_ready_file(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    upload = service.start_upload(UploadCreate(size=1), "t1", stores, settings)
    created = _put_upload(settings, f"uploads/{upload.file_id}", hdf5_file())

    first = service.ingest_object(created, stores, settings)
    second = service.ingest_object(created, stores, settings)

    assert first == second
    assert [r.file_id for r in stores.files.list_recent("t1", 10, None)[0]] == [upload.file_id]


def test_ingest_rejects_invalid_upload_and_deletes_it(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    upload = service.start_upload(UploadCreate(size=1), "t1", stores, settings)
    truncated = hdf5_file(50_000)[:20_000]
    created = _put_upload(settings, f"uploads/{upload.file_id}", truncated)

    record = service.ingest_object(created, stores, settings)

    assert record is not None and record.status is FileStatus.REJECTED
    assert "truncated" in (record.reason or "")
    with pytest.raises(NotFoundError):
        stores.objects.size(created.key)


def test_ingest_deletes_upload_for_unknown_file(stores: Stores, settings: Settings) -> None:
    created = _put_upload(settings, "uploads/00000000-0000-4000-8000-000000000000", b"bytes")

    assert service.ingest_object(created, stores, settings) is None
    with pytest.raises(NotFoundError):
        stores.objects.size(created.key)


def test_ingest_ignores_keys_outside_upload_layout(stores: Stores, settings: Settings) -> None:
    created = _put_upload(settings, "uploads/not-a-file-id", b"bytes")

    assert service.ingest_object(created, stores, settings) is None
    assert stores.objects.size(created.key) == 5


def test_complete_upload_refuses_single_put_upload(stores: Stores, settings: Settings) -> None:
    upload = service.start_upload(UploadCreate(size=10), "t1", stores, settings)
    request = UploadComplete.model_validate({"parts": [{"part_number": 1, "etag": "x"}]})

    with pytest.raises(IllegalTransitionError):
        service.complete_upload(upload.file_id, request, "t1", stores)


def test_complete_upload_rejects_unknown_parts(stores: Stores, settings: Settings) -> None:
    upload = service.start_upload(UploadCreate(size=10, part_size=5 * MiB), "t1", stores, settings)
    request = UploadComplete.model_validate({"parts": [{"part_number": 1, "etag": '"nope"'}]})

    with pytest.raises(InvalidInputError):
        service.complete_upload(upload.file_id, request, "t1", stores)


def test_read_file_refuses_pending_file(stores: Stores, settings: Settings) -> None:
    upload = service.start_upload(UploadCreate(size=10), "t1", stores, settings)

    with pytest.raises(NotReadyError):
        service.read_file(upload.file_id, "t1", stores, settings)


def test_read_file_redirects_large_file(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_upload(hdf5_file(1000), "t1", stores, settings)
    small_limit = settings.model_copy(update={"max_direct_download_bytes": 100})

    download = service.read_file(record.file_id, "t1", stores, small_limit)

    assert download.redirect_url and record.s3_key in download.redirect_url
    assert download.body == b""


def test_delete_file_removes_record_and_bytes(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_upload(hdf5_file(), "t1", stores, settings)

    service.delete_file(record.file_id, "t1", stores)

    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id)
    with pytest.raises(NotFoundError):
        stores.objects.size(record.s3_key)


def test_delete_file_aborts_unfinished_multipart_upload(stores: Stores, settings: Settings) -> None:
    upload = service.start_upload(UploadCreate(size=10, part_size=5 * MiB), "t1", stores, settings)

    service.delete_file(upload.file_id, "t1", stores)

    assert boto3.client("s3").list_multipart_uploads(Bucket=settings.data_bucket).get("Uploads", []) == []


def _held_input(stores: Stores, settings: Settings, body: bytes) -> tuple[str, str]:
    """A READY file of the workers' tenant and a PENDING execution holding it: (file id, execution id)."""
    record = service.store_ready(body, TENANT, stores, settings)
    execution = new_execution(stores, "algorithm-1", [record.file_id])
    service.hold_inputs(execution.execution_id, [record.file_id], stores)
    return record.file_id, execution.execution_id


def test_hold_inputs_keeps_file_to_the_ceiling_and_tags_it_held(
    stores: Stores, settings: Settings, clock: MovableClock, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_ready(hdf5_file(), "t1", stores, settings)

    service.hold_inputs("e1", [record.file_id, record.file_id], stores)

    held = stores.files.get(record.file_id)
    assert (held.held_by, held.expires_at) == ({"e1"}, int(clock()) + service.HOLD_CEILING_SECONDS)
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "held"}


def test_hold_inputs_rejects_deleted_file(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_ready(hdf5_file(), "t1", stores, settings)
    service.delete_file(record.file_id, "t1", stores)

    with pytest.raises(NotFoundError):
        service.hold_inputs("e1", [record.file_id], stores)


def test_release_inputs_gives_back_expiry_and_temporary_tag(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_ready(hdf5_file(), "t1", stores, settings)
    service.hold_inputs("e1", [record.file_id], stores)

    service.release_inputs("e1", [record.file_id], stores)

    assert stores.files.get(record.file_id) == record
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "temporary"}


def test_release_inputs_keeps_file_held_by_another_execution(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_ready(hdf5_file(), "t1", stores, settings)
    service.hold_inputs("e1", [record.file_id], stores)
    service.hold_inputs("e2", [record.file_id], stores)

    service.release_inputs("e1", [record.file_id], stores)

    assert stores.files.get(record.file_id).held_by == {"e2"}
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "held"}


def test_release_inputs_twice_is_harmless(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_ready(hdf5_file(), "t1", stores, settings)
    service.hold_inputs("e1", [record.file_id], stores)
    service.release_inputs("e1", [record.file_id], stores)

    service.release_inputs("e1", [record.file_id], stores)

    assert stores.files.get(record.file_id) == record


def test_release_inputs_retags_a_file_held_again_meanwhile(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    record = service.store_ready(hdf5_file(), "t1", stores, settings)
    service.hold_inputs("e1", [record.file_id], stores)
    release = stores.files.release

    def release_then_hold(file_id: str, holder: str) -> object:
        released = release(file_id, holder)
        service.hold_inputs("e2", [file_id], stores)  # lands between e1's release and its retag
        return released

    monkeypatch.setattr(stores.files, "release", release_then_hold)

    service.release_inputs("e1", [record.file_id], stores)

    assert stores.files.get(record.file_id).held_by == {"e2"}
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "held"}


def test_release_inputs_ignores_file_deleted_meanwhile(
    stores: Stores, settings: Settings, clock: MovableClock, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_ready(hdf5_file(), "t1", stores, settings)
    service.hold_inputs("e1", [record.file_id], stores)
    # The hold ran out and DynamoDB's TTL sweep and the lifecycle rule took the file.
    clock.advance(service.HOLD_CEILING_SECONDS)
    table = boto3.resource("dynamodb").Table(settings.table_name)
    table.delete_item(Key=file_key(record.file_id))
    stores.objects.delete(record.s3_key)

    service.release_inputs("e1", [record.file_id], stores)

    assert "Item" not in table.get_item(Key=file_key(record.file_id))


def test_delete_file_refuses_input_of_running_execution(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_id, execution_id = _held_input(stores, settings, hdf5_file())

    with pytest.raises(FileInUseError, match=execution_id):
        service.delete_file(file_id, TENANT, stores)
    assert stores.objects.exists(stores.files.get(file_id).s3_key)


def test_delete_file_drops_hold_of_ended_execution(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_id, execution_id = _held_input(stores, settings, hdf5_file())
    # Ended without releasing its inputs (a lost release).
    stores.executions.fail(execution_id, ExecutionError(type="RuntimeError", message="lost"))

    service.delete_file(file_id, TENANT, stores)

    with pytest.raises(NotFoundError):
        stores.files.get(file_id)


def test_held_lifecycle_rule_outlasts_file_life_plus_hold() -> None:
    template = load_template(TEMPLATE)
    parameters = template["Parameters"]
    rules = template["Resources"]["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    hold_days = service.HOLD_CEILING_SECONDS / 86_400

    held = next(r for r in rules if r.get("TagFilters") == [{"Key": "stratus-lifetime", "Value": "held"}])

    assert held["ExpirationInDays"] == {"Ref": "HeldFileLifetimeDays"}
    for bound in ("Default", "MaxValue"):
        assert parameters["HeldFileLifetimeDays"][bound] >= parameters["FileLifetimeDays"][bound] + hold_days


def test_longest_execution_fits_in_the_hold() -> None:
    template = load_template(TEMPLATE)
    attempts = max(
        resource["Properties"]["RetryStrategy"]["Attempts"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Batch::JobDefinition"
    )

    assert attempts * template["Parameters"]["JobTimeoutSeconds"]["MaxValue"] < service.HOLD_CEILING_SECONDS
