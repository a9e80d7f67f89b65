"""File use cases: direct upload, presigned uploads, idempotent ingestion, batched ready reads, download,
and deletes refused while a live job or a sample holds the file."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

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
from stratus.models import FileRecord, FileStatus, ObjectCreated, UploadComplete, UploadCreate
from stratus.models.executions import ExecutionError, ExecutionRecord
from stratus.models.samples import SampleCreate
from stratus.services import files as service
from stratus.services import ingestion, jobs, samples
from stratus.settings import Settings
from stratus.stores import Stores

from tests.conftest import MovableClock, job_plan
from tests.gpu_worker.conftest import TENANT

MiB = 1024 * 1024
# A well-formed part ETag that no uploaded part has.
UNKNOWN_ETAG = '"' + "0" * 32 + '"'


def _put_upload(settings: Settings, key: str, body: bytes) -> ObjectCreated:
    """PUT ``body`` to ``key`` as a client would; the event as moto sends it (no version id)."""
    boto3.client("s3").put_object(Bucket=settings.data_bucket, Key=key, Body=body)
    return ObjectCreated(bucket=settings.data_bucket, key=key, size=len(body))


def _pending_upload(stores: Stores, settings: Settings, size: int) -> str:
    """A PENDING single-PUT upload of ``size`` bytes; returns its key."""
    return f"uploads/{service.start_upload(UploadCreate(size=size), 't1', stores, settings).file_id}"


def _versions(settings: Settings, key: str) -> list[str]:
    listing = boto3.client("s3").list_object_versions(Bucket=settings.data_bucket, Prefix=key)
    entries = [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
    return [entry["VersionId"] for entry in entries if entry["Key"] == key]


def _signed_headers(url: str) -> list[str]:
    return parse_qs(urlparse(url).query)["X-Amz-SignedHeaders"][0].split(";")


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


def test_store_ready_records_what_an_output_holds(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_ready(hdf5_file(4096), "t1", stores, settings)

    stored = stores.files.get(record.file_id)
    assert [(d.name, d.shape, d.dtype) for d in stored.datasets or []] == [("/volume", [1024], "float32")]
    assert stored.datasets_truncated is False


def test_store_ready_refuses_bytes_that_are_not_hdf5(stores: Stores, settings: Settings) -> None:
    # A job's outputs come from the algorithm's process: they are read as HDF5 before they become files.
    with pytest.raises(InvalidInputError, match="not a valid HDF5 file"):
        service.store_ready(b"not hdf5 at all", "t1", stores, settings)

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


def test_start_upload_signs_the_declared_length_into_a_single_put(stores: Stores, settings: Settings) -> None:
    upload = service.start_upload(UploadCreate(size=1000), "t1", stores, settings)

    assert upload.upload_url is not None
    assert "content-length" in _signed_headers(upload.upload_url)


def test_start_upload_plans_and_signs_each_part_length(stores: Stores, settings: Settings) -> None:
    upload = service.start_upload(UploadCreate(size=11 * MiB, part_size=5 * MiB), "t1", stores, settings)

    assert [part.size for part in upload.parts] == [5 * MiB, 5 * MiB, 1 * MiB]
    assert all("content-length" in _signed_headers(part.url) for part in upload.parts)


def test_ingest_marks_valid_upload_ready(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    body = hdf5_file(3 * MiB)
    upload = service.start_upload(UploadCreate(size=len(body)), "t1", stores, settings)
    created = _put_upload(settings, f"uploads/{upload.file_id}", body)

    record = ingestion.ingest_object(created, stores, settings)

    assert record is not None
    assert (record.status, record.size) == (FileStatus.READY, len(body))
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "temporary"}


def test_ingest_same_event_twice_gives_one_ready_file(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    body = hdf5_file()
    upload = service.start_upload(UploadCreate(size=len(body)), "t1", stores, settings)
    created = _put_upload(settings, f"uploads/{upload.file_id}", body)

    first = ingestion.ingest_object(created, stores, settings)
    second = ingestion.ingest_object(created, stores, settings)

    assert first == second
    assert [r.file_id for r in stores.files.list_recent("t1", 10, None)[0]] == [upload.file_id]


def test_ingest_rejects_invalid_upload_and_deletes_it(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    truncated = hdf5_file(50_000)[:20_000]
    upload = service.start_upload(UploadCreate(size=len(truncated)), "t1", stores, settings)
    created = _put_upload(settings, f"uploads/{upload.file_id}", truncated)

    record = ingestion.ingest_object(created, stores, settings)

    assert record is not None and record.status is FileStatus.REJECTED
    assert "truncated" in (record.reason or "")
    with pytest.raises(NotFoundError):
        stores.objects.size(created.key)


def test_ingest_rejects_an_object_of_another_size_than_declared(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    body = hdf5_file(MiB)
    created = _put_upload(settings, _pending_upload(stores, settings, 100), body)

    record = ingestion.ingest_object(created, stores, settings)

    assert record is not None and record.status is FileStatus.REJECTED
    assert record.reason == f"the uploaded file is {len(body)} bytes; the upload declared 100"
    assert _versions(settings, created.key) == []


def test_ingest_of_a_put_after_ready_changes_nothing(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    body = hdf5_file(seed=1)
    created = _put_upload(settings, _pending_upload(stores, settings, len(body)), body)
    ready = ingestion.ingest_object(created, stores, settings)
    assert ready is not None
    # The presigned URL used again, with other bytes of the same length.
    again = _put_upload(settings, created.key, hdf5_file(seed=2))

    after = ingestion.ingest_object(again, stores, settings)

    assert after == ready == stores.files.get(ready.file_id)
    assert service.read_file(ready.file_id, "t1", stores, settings).body == body
    assert _versions(settings, created.key) == [ready.version_id]


def test_ingest_validates_the_version_the_event_names(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    body = hdf5_file(seed=1)
    key = _pending_upload(stores, settings, len(body))
    s3 = boto3.client("s3")
    first = s3.put_object(Bucket=settings.data_bucket, Key=key, Body=body)["VersionId"]
    s3.put_object(Bucket=settings.data_bucket, Key=key, Body=b"x" * len(body))
    created = ObjectCreated(bucket=settings.data_bucket, key=key, size=len(body), version_id=first)

    record = ingestion.ingest_object(created, stores, settings)

    assert record is not None
    assert (record.status, record.version_id) == (FileStatus.READY, first)
    assert service.read_file(record.file_id, "t1", stores, settings).body == body
    assert _versions(settings, key) == [first]


def test_ingest_deletes_upload_for_unknown_file(stores: Stores, settings: Settings) -> None:
    created = _put_upload(settings, "uploads/00000000-0000-4000-8000-000000000000", b"bytes")

    assert ingestion.ingest_object(created, stores, settings) is None
    assert _versions(settings, created.key) == []


def test_ingest_ignores_keys_outside_upload_layout(stores: Stores, settings: Settings) -> None:
    created = _put_upload(settings, "uploads/not-a-file-id", b"bytes")

    assert ingestion.ingest_object(created, stores, settings) is None
    assert stores.objects.size(created.key) == 5


def _complete_request(*part_numbers: int, etags: dict[int, str] | None = None) -> UploadComplete:
    parts = [{"part_number": n, "etag": (etags or {}).get(n, UNKNOWN_ETAG)} for n in part_numbers]
    return UploadComplete.model_validate({"parts": parts})


def _multipart_upload(stores: Stores, settings: Settings, size: int) -> str:
    """A PENDING multipart upload of ``size`` bytes in 5 MiB parts; returns the file id."""
    return service.start_upload(UploadCreate(size=size, part_size=5 * MiB), "t1", stores, settings).file_id


def _put_part(settings: Settings, record: FileRecord, number: int, body: bytes) -> str:
    """Upload one part as a client would through its URL; returns its ETag."""
    response = boto3.client("s3").upload_part(
        Bucket=settings.data_bucket,
        Key=record.s3_key,
        UploadId=record.upload_id,
        PartNumber=number,
        Body=body,
    )
    return response["ETag"]


def test_complete_upload_refuses_single_put_upload(stores: Stores, settings: Settings) -> None:
    upload = service.start_upload(UploadCreate(size=10), "t1", stores, settings)

    with pytest.raises(IllegalTransitionError, match="single-PUT"):
        service.complete_upload(upload.file_id, _complete_request(1), "t1", stores)


def test_complete_upload_rejects_unknown_parts(stores: Stores, settings: Settings) -> None:
    file_id = _multipart_upload(stores, settings, 10)

    with pytest.raises(InvalidInputError, match="S3 refused the parts"):
        service.complete_upload(file_id, _complete_request(1), "t1", stores)


def test_complete_upload_names_missing_parts_and_changes_nothing(stores: Stores, settings: Settings) -> None:
    file_id = _multipart_upload(stores, settings, 21 * MiB)  # parts 1 to 5
    before = stores.files.get(file_id)

    with pytest.raises(InvalidInputError, match="parts missing: 2-3, 5; upload them and complete with all 5"):
        service.complete_upload(file_id, _complete_request(1, 4), "t1", stores)

    assert stores.files.get(file_id) == before
    uploads = boto3.client("s3").list_multipart_uploads(Bucket=settings.data_bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [before.upload_id]


def test_complete_upload_refuses_parts_beyond_the_plan(stores: Stores, settings: Settings) -> None:
    file_id = _multipart_upload(stores, settings, 10)  # one part

    with pytest.raises(InvalidInputError, match="has parts 1 to 1; there is no part 2"):
        service.complete_upload(file_id, _complete_request(1, 2), "t1", stores)


def test_complete_upload_twice_is_refused(stores: Stores, settings: Settings) -> None:
    file_id = _multipart_upload(stores, settings, 10)
    record = stores.files.get(file_id)
    request = _complete_request(1, etags={1: _put_part(settings, record, 1, b"0123456789")})
    completed = service.complete_upload(file_id, request, "t1", stores)

    with pytest.raises(IllegalTransitionError, match="completed already"):
        service.complete_upload(file_id, request, "t1", stores)

    assert (completed.upload_id, completed.status) == (None, FileStatus.PENDING)
    assert stores.objects.size(record.s3_key) == 10


def test_complete_upload_after_the_file_expired_is_not_found(
    stores: Stores, settings: Settings, clock: MovableClock
) -> None:
    file_id = _multipart_upload(stores, settings, 10)
    clock.advance(settings.file_lifetime_seconds)

    with pytest.raises(NotFoundError):
        service.complete_upload(file_id, _complete_request(1), "t1", stores)


def test_get_ready_many_reads_each_file_once_in_order(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    first, second = (service.store_ready(hdf5_file(seed=s), "t1", stores, settings) for s in range(2))

    ready = service.get_ready_many([second.file_id, first.file_id, second.file_id], "t1", stores)

    assert ready == [second, first]


def test_get_ready_many_of_no_files_is_empty(stores: Stores) -> None:
    assert service.get_ready_many([], "t1", stores) == []


def test_get_ready_many_names_every_missing_file(
    stores: Stores, settings: Settings, clock: MovableClock, hdf5_file: Callable[..., bytes]
) -> None:
    expired = service.store_ready(hdf5_file(), "t1", stores, settings)
    clock.advance(settings.file_lifetime_seconds)
    ready = service.store_ready(hdf5_file(), "t1", stores, settings)
    foreign = service.store_ready(hdf5_file(), "someone-else", stores, settings)
    unknown = str(uuid.uuid4())

    with pytest.raises(NotFoundError) as raised:
        service.get_ready_many([ready.file_id, expired.file_id, foreign.file_id, unknown], "t1", stores)

    assert raised.value.detail == f"files not found: {expired.file_id}, {foreign.file_id}, {unknown}"


def test_get_ready_many_refuses_a_file_that_is_not_ready(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    ready = service.store_ready(hdf5_file(), "t1", stores, settings)
    pending = service.start_upload(UploadCreate(size=10), "t1", stores, settings)

    with pytest.raises(NotReadyError, match=f"file {pending.file_id} is PENDING"):
        service.get_ready_many([ready.file_id, pending.file_id], "t1", stores)


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


def test_read_file_redirect_names_the_files_version_and_raw_bytes(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_upload(hdf5_file(1000), "t1", stores, settings)
    small_limit = settings.model_copy(update={"max_direct_download_bytes": 100})

    download = service.read_file(record.file_id, "t1", stores, small_limit)

    query = parse_qs(urlparse(download.redirect_url or "").query)
    assert query["versionId"] == [record.version_id]
    assert query["response-content-type"] == ["application/octet-stream"]
    assert query["response-content-disposition"] == [f'attachment; filename="{record.file_id}.h5"']


def test_delete_file_removes_record_and_bytes(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_upload(hdf5_file(), "t1", stores, settings)

    service.delete_file(record.file_id, "t1", stores)

    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id)
    assert _versions(settings, record.s3_key) == []


def test_delete_file_aborts_unfinished_multipart_upload(stores: Stores, settings: Settings) -> None:
    upload = service.start_upload(UploadCreate(size=10, part_size=5 * MiB), "t1", stores, settings)

    service.delete_file(upload.file_id, "t1", stores)

    assert boto3.client("s3").list_multipart_uploads(Bucket=settings.data_bucket).get("Uploads", []) == []


class _Machine:
    """Stands in for the execution state machine: accepting starts a run that nothing runs."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, name: str, payload: dict[str, Any]) -> None:
        self.started.append(name)


def _accept_execution(stores: Stores, inputs: list[FileRecord]) -> ExecutionRecord:
    """A PENDING execution holding ``inputs``, accepted as the API accepts one (record and holds in one
    transaction)."""
    now = stores.clock()
    record = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=TENANT,
        algorithm_id="algorithm-1",
        input_dataset_ids=[f.file_id for f in inputs],
        created_at=now,
        expires_at=int(now) + 86_400,
        plan=job_plan(),
    )
    jobs.accept(record, stores.executions, inputs, _Machine(), {}, stores)  # type: ignore[arg-type]
    return record


def _held_input(stores: Stores, settings: Settings, body: bytes) -> tuple[str, str]:
    """A READY file of the workers' tenant and a PENDING execution holding it: (file id, execution id)."""
    record = service.store_ready(body, TENANT, stores, settings)
    execution = _accept_execution(stores, [record])
    return record.file_id, execution.execution_id


def test_delete_file_refuses_input_of_running_execution(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_id, execution_id = _held_input(stores, settings, hdf5_file())

    with pytest.raises(FileInUseError, match=f"execution {execution_id}"):
        service.delete_file(file_id, TENANT, stores)
    assert stores.objects.exists(stores.files.get(file_id).s3_key)


def test_delete_file_drops_hold_of_ended_execution(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_id, execution_id = _held_input(stores, settings, hdf5_file())
    s3_key = stores.files.get(file_id).s3_key
    # Ended without releasing its inputs (a lost release).
    stores.executions.fail(execution_id, ExecutionError(type="RuntimeError", message="lost"))

    service.delete_file(file_id, TENANT, stores)

    with pytest.raises(NotFoundError):
        stores.files.get(file_id)
    with pytest.raises(NotFoundError):
        stores.objects.size(s3_key)


def test_delete_file_refuses_file_of_a_sample_until_the_sample_is_deleted(
    stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    record = service.store_ready(hdf5_file(), TENANT, stores, settings)
    sample = samples.create(SampleCreate(files=[{"input": [record.file_id]}]), TENANT, stores)

    with pytest.raises(FileInUseError, match=f"sample {sample.sample_id}"):
        service.delete_file(record.file_id, TENANT, stores)
    samples.delete(sample.sample_id, TENANT, stores)
    service.delete_file(record.file_id, TENANT, stores)

    with pytest.raises(NotFoundError):
        stores.files.get(record.file_id)
