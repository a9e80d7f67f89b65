"""Files API through the FastAPI app: Compox's contract, bad input, expiry, holds, error shape."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from stratus.models.executions import ExecutionError, ExecutionRecord
from stratus.services import files, holds, jobs
from stratus.settings import Settings
from stratus.stores import Stores

from tests.conftest import job_plan

OCTET = {"content-type": "application/octet-stream"}


def _upload(client: TestClient, body: bytes) -> str:
    response = client.post("/api/v0/files", content=body, headers=OCTET)
    assert response.status_code == 200, response.text
    file_id: str = response.json()["file_id"]
    return file_id


def test_upload_download_delete_round_trip(client: TestClient, hdf5_file: Callable[..., bytes]) -> None:
    body = hdf5_file(50_000)

    file_id = _upload(client, body)
    downloaded = client.get(f"/api/v0/files/{file_id}")
    deleted = client.delete(f"/api/v0/files/{file_id}")

    assert downloaded.status_code == 200
    assert downloaded.content == body
    assert downloaded.headers["content-type"] == "application/octet-stream"
    assert downloaded.headers["content-length"] == str(len(body))
    assert deleted.json() == {"detail": "File deleted successfully"}
    assert client.get(f"/api/v0/files/{file_id}").status_code == 404


def test_upload_returns_uuid_file_id(client: TestClient, hdf5_file: Callable[..., bytes]) -> None:
    file_id = _upload(client, hdf5_file())

    assert str(uuid.UUID(file_id)) == file_id


def test_status_shows_ready_file_metadata(client: TestClient, hdf5_file: Callable[..., bytes]) -> None:
    body = hdf5_file()
    file_id = _upload(client, body)

    status = client.get(f"/api/v0/files/{file_id}/status").json()

    assert (status["status"], status["size"], status["file_id"]) == ("READY", len(body), file_id)


def test_status_shows_what_the_file_holds(client: TestClient, hdf5_file: Callable[..., bytes]) -> None:
    file_id = _upload(client, hdf5_file(4096))

    status = client.get(f"/api/v0/files/{file_id}/status").json()

    # make_hdf5: one float32 dataset of 1024 values, contiguous, beside a group with an attribute only.
    assert status["datasets"] == [
        {"name": "/volume", "shape": [1024], "dtype": "float32", "chunks": None, "filters": []}
    ]
    assert status["datasets_truncated"] is False


def test_status_of_a_file_stored_before_datasets_were_recorded_shows_none(
    client: TestClient, stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_id = _upload(client, hdf5_file())
    # What a record written before this field existed looks like: no datasets attribute at all.
    boto3.resource("dynamodb").Table(settings.table_name).update_item(
        Key=stores.files.key(file_id), UpdateExpression="REMOVE datasets, datasets_truncated"
    )

    status = client.get(f"/api/v0/files/{file_id}/status").json()

    assert status["status"] == "READY"
    assert (status["datasets"], status["datasets_truncated"]) == (None, False)


def test_file_list_leaves_datasets_to_the_status_route(
    client: TestClient, hdf5_file: Callable[..., bytes]
) -> None:
    _upload(client, hdf5_file())

    (item,) = client.get("/api/v0/files").json()["items"]

    assert "datasets" not in item


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"", OCTET, 422, "invalid_input"),
        (b"plain text, not HDF5", OCTET, 422, "invalid_input"),
        (b"a b", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b"a=b", {"content-type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ],
)
def test_upload_rejects_bad_body(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = client.post("/api/v0/files", content=body, headers=headers)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["detail"]


def test_upload_rejects_truncated_hdf5(client: TestClient, hdf5_file: Callable[..., bytes]) -> None:
    body = hdf5_file(100_000)

    response = client.post("/api/v0/files", content=body[: len(body) - 1000], headers=OCTET)

    assert response.status_code == 422
    assert "truncated" in response.json()["detail"]


def test_upload_over_limit_points_to_presigned_flow(client: TestClient, settings: Settings) -> None:
    response = client.post(
        "/api/v0/files", content=b"\0" * (settings.max_direct_upload_bytes + 1), headers=OCTET
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert "/api/v0/files/uploads" in response.json()["detail"]


def test_bad_upload_leaves_no_record(client: TestClient) -> None:
    client.post("/api/v0/files", content=b"nope", headers=OCTET)

    assert client.get("/api/v0/files").json()["items"] == []


@pytest.mark.parametrize("method", ["get", "delete"])
def test_unknown_file_is_404_with_code(client: TestClient, method: str) -> None:
    response = getattr(client, method)(f"/api/v0/files/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json() == {"detail": "file not found", "code": "not_found"}


@pytest.mark.parametrize("file_id", ["nope", "12345", "3F2B1C9E-8A7D-4E6F-9B1A-2C3D4E5F6A7B", "x" * 300])
def test_malformed_file_id_is_422(client: TestClient, file_id: str) -> None:
    response = client.get(f"/api/v0/files/{file_id}")

    assert response.status_code == 422


def test_expired_file_is_404_before_ttl_deletion(
    client: TestClient, clock, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_id = _upload(client, hdf5_file())

    clock.advance(settings.file_lifetime_seconds)

    assert client.get(f"/api/v0/files/{file_id}").status_code == 404
    assert client.get(f"/api/v0/files/{file_id}/status").status_code == 404
    assert client.delete(f"/api/v0/files/{file_id}").status_code == 404


def test_file_lives_until_just_before_expiry(
    client: TestClient, clock, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_id = _upload(client, hdf5_file())

    clock.advance(settings.file_lifetime_seconds - 1)

    assert client.get(f"/api/v0/files/{file_id}").status_code == 200


class _Machine:
    """Stands in for the execution state machine: accepting starts a run that nothing runs."""

    def start(self, name: str, payload: dict[str, Any]) -> None:
        pass


def _accept_execution(stores: Stores, settings: Settings, file_id: str) -> ExecutionRecord:
    """A PENDING execution holding the file, accepted as the API accepts one (record and holds in one
    transaction)."""
    inputs = files.get_ready_many([file_id], "local", stores)
    now = stores.clock()
    record = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant="local",
        algorithm_id="algorithm-1",
        input_dataset_ids=[file_id],
        created_at=now,
        expires_at=int(now) + 86_400,
        plan=job_plan(),
    )
    jobs.accept(record, stores.executions, inputs, _Machine(), {}, stores)  # type: ignore[arg-type]
    return record


def test_status_shows_expiry_pushed_out_by_a_hold(
    client: TestClient, stores: Stores, settings: Settings, clock, hdf5_file: Callable[..., bytes]
) -> None:
    file_id = _upload(client, hdf5_file())
    _accept_execution(stores, settings, file_id)

    status = client.get(f"/api/v0/files/{file_id}/status").json()

    held_until = datetime.fromtimestamp(int(clock()) + holds.HOLD_CEILING_SECONDS, UTC)
    assert datetime.fromisoformat(status["expires_at"]) == held_until


def test_delete_file_held_by_running_execution_is_409(
    client: TestClient, stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_id = _upload(client, hdf5_file())
    execution = _accept_execution(stores, settings, file_id)

    response = client.delete(f"/api/v0/files/{file_id}")

    assert response.status_code == 409
    assert response.json()["code"] == "file_in_use"
    assert f"execution {execution.execution_id}" in response.json()["detail"]
    assert client.get(f"/api/v0/files/{file_id}").status_code == 200


def test_delete_file_held_by_ended_execution_succeeds(
    client: TestClient, stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]
) -> None:
    file_id = _upload(client, hdf5_file())
    execution = _accept_execution(stores, settings, file_id)
    # The execution ended but its release was lost: its hold must not block the delete.
    stores.executions.fail(execution.execution_id, ExecutionError(type="RuntimeError", message="lost"))

    response = client.delete(f"/api/v0/files/{file_id}")

    assert response.json() == {"detail": "File deleted successfully"}


def test_list_files_pages_with_cursor(client: TestClient, clock, hdf5_file: Callable[..., bytes]) -> None:
    ids = []
    for seed in range(3):
        ids.append(_upload(client, hdf5_file(seed=seed)))
        clock.advance(1)

    first = client.get("/api/v0/files", params={"limit": 2}).json()
    second = client.get("/api/v0/files", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [f["file_id"] for f in first["items"] + second["items"]] == list(reversed(ids))


def test_list_files_rejects_bad_cursor(client: TestClient) -> None:
    response = client.get("/api/v0/files", params={"cursor": "not-ours"})

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


def test_list_files_refuses_a_forged_cursor_naming_the_list(
    client: TestClient, clock, hdf5_file: Callable[..., bytes]
) -> None:
    for seed in range(2):
        _upload(client, hdf5_file(seed=seed))
        clock.advance(1)
    # A start key as the cursor once was (plain base64), naming this list but not one DynamoDB can take.
    forged = {"gsi1pk": "file#local", "gsi1sk": 5, "pk": "file#x", "sk": "file"}
    cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")

    response = client.get("/api/v0/files", params={"limit": 1, "cursor": cursor})

    assert (response.status_code, response.json()["code"]) == (422, "invalid_cursor")


def test_list_files_refuses_another_tenants_cursor(
    client_for: Callable[[str], TestClient], clock, hdf5_file: Callable[..., bytes]
) -> None:
    acme, other = client_for("acme"), client_for("other")
    for seed in range(2):
        _upload(acme, hdf5_file(seed=seed))
        _upload(other, hdf5_file(seed=seed))
        clock.advance(1)
    cursor = acme.get("/api/v0/files", params={"limit": 1}).json()["next_cursor"]

    response = other.get("/api/v0/files", params={"limit": 1, "cursor": cursor})

    assert (response.status_code, response.json()["code"]) == (422, "invalid_cursor")


def test_start_upload_single_put(client: TestClient) -> None:
    response = client.post("/api/v0/files/uploads", json={"size": 1000})

    assert response.status_code == 201
    assert response.json()["upload_url"]
    assert client.get(f"/api/v0/files/{response.json()['file_id']}/status").json()["status"] == "PENDING"


def test_start_upload_multipart_gives_complete_url(client: TestClient) -> None:
    response = client.post("/api/v0/files/uploads", json={"size": 11 * 2**20, "part_size": 5 * 2**20})

    body = response.json()
    assert [p["part_number"] for p in body["parts"]] == [1, 2, 3]
    assert body["complete_url"].endswith(f"/api/v0/files/uploads/{body['file_id']}/complete")


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"size": 0},
        {"size": -1},
        {"size": 10, "extra": 1},
        {"size": 10, "part_size": 1024},
        {"size": 10, "part_size": 5 * 2**30 + 1},
        {"size": "100"},
        {"size": 100.0},
        {"size": True},
        {"size": 10, "part_size": str(5 * 2**20)},
    ],
)
def test_start_upload_rejects_bad_request(client: TestClient, payload: dict[str, Any]) -> None:
    response = client.post("/api/v0/files/uploads", json=payload)

    assert response.status_code == 422
    assert client.get("/api/v0/files").json()["items"] == []


def test_start_upload_over_the_maximum_size_is_413(client: TestClient, settings: Settings) -> None:
    response = client.post("/api/v0/files/uploads", json={"size": settings.max_upload_bytes + 1})

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert client.get("/api/v0/files").json()["items"] == []


def test_pending_file_cannot_be_downloaded(client: TestClient) -> None:
    file_id = client.post("/api/v0/files/uploads", json={"size": 1000}).json()["file_id"]

    response = client.get(f"/api/v0/files/{file_id}")

    assert response.status_code == 409
    assert response.json()["code"] == "not_ready"


ETAG = '"' + "0" * 32 + '"'


def _multipart_upload(client: TestClient, size: int = 10) -> str:
    """A multipart upload of ``size`` bytes in 5 MiB parts; returns its file id."""
    upload = client.post("/api/v0/files/uploads", json={"size": size, "part_size": 5 * 2**20}).json()
    file_id: str = upload["file_id"]
    return file_id


def test_complete_with_duplicate_parts_is_422(client: TestClient) -> None:
    file_id = _multipart_upload(client)
    parts = [{"part_number": 1, "etag": ETAG}, {"part_number": 1, "etag": ETAG}]

    response = client.post(f"/api/v0/files/uploads/{file_id}/complete", json={"parts": parts})

    assert response.status_code == 422


@pytest.mark.parametrize(
    "part",
    [
        {"part_number": 1, "etag": '"a\u0001b"'},  # a control character: moto's XML parser crashed
        {"part_number": 1, "etag": "not an etag"},
        {"part_number": 1, "etag": ""},
        {"part_number": "1", "etag": ETAG},
        {"part_number": 0, "etag": ETAG},
        {"part_number": 10_001, "etag": ETAG},
    ],
)
def test_complete_with_malformed_part_is_422(client: TestClient, part: dict[str, Any]) -> None:
    file_id = _multipart_upload(client)

    response = client.post(f"/api/v0/files/uploads/{file_id}/complete", json={"parts": [part]})

    assert response.status_code == 422
    assert client.get(f"/api/v0/files/{file_id}/status").json()["status"] == "PENDING"


def test_complete_omitting_parts_is_422_naming_them(client: TestClient) -> None:
    file_id = _multipart_upload(client, 16 * 2**20)  # parts 1 to 4
    parts = [{"part_number": n, "etag": ETAG} for n in (1, 3)]

    response = client.post(f"/api/v0/files/uploads/{file_id}/complete", json={"parts": parts})

    assert response.status_code == 422
    assert response.json() == {
        "detail": "parts missing: 2, 4; upload them and complete with all 4 parts",
        "code": "invalid_input",
    }
    assert client.get(f"/api/v0/files/{file_id}/status").json()["status"] == "PENDING"


def test_complete_of_a_single_put_upload_is_409(client: TestClient) -> None:
    file_id = client.post("/api/v0/files/uploads", json={"size": 10}).json()["file_id"]

    response = client.post(
        f"/api/v0/files/uploads/{file_id}/complete", json={"parts": [{"part_number": 1, "etag": ETAG}]}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"


def test_unknown_route_has_error_shape(client: TestClient) -> None:
    response = client.get("/api/v0/nothing-here")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_health_answers_ok(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_openapi_describes_raw_hdf5_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    content = spec["paths"]["/api/v0/files"]["post"]["requestBody"]["content"]
    assert content["application/octet-stream"]["schema"] == {"type": "string", "format": "binary"}


def test_download_is_named_after_the_file(client: TestClient, hdf5_file: Callable[..., bytes]) -> None:
    file_id = client.post("/api/v0/files", content=hdf5_file(), headers=OCTET).json()["file_id"]

    answer = client.get(f"/api/v0/files/{file_id}")

    assert answer.headers["content-disposition"] == f'attachment; filename="{file_id}.h5"'
