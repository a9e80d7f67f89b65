"""End to end through `python -m stratus.local` in subprocesses: real HTTP, real moto server, real ingest."""

from __future__ import annotations

import math
from collections.abc import Callable

import httpx
import pytest

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


def _wait_ready(api: httpx.Client, file_id: str, poll: Callable[..., None]) -> dict[str, str]:
    poll(lambda: api.get(f"/api/v0/files/{file_id}/status").json()["status"] != "PENDING", timeout=30)
    status: dict[str, str] = api.get(f"/api/v0/files/{file_id}/status").json()
    return status


def test_small_file_round_trip(api: httpx.Client, hdf5_file: Callable[..., bytes]) -> None:
    body = hdf5_file(200_000)

    file_id = api.post(
        "/api/v0/files", content=body, headers={"content-type": "application/octet-stream"}
    ).json()["file_id"]
    downloaded = api.get(f"/api/v0/files/{file_id}")
    deleted = api.delete(f"/api/v0/files/{file_id}")

    assert downloaded.content == body
    assert deleted.status_code == 200
    assert api.get(f"/api/v0/files/{file_id}").status_code == 404


def test_presigned_single_put_round_trip(
    api: httpx.Client, hdf5_file: Callable[..., bytes], poll: Callable[..., None]
) -> None:
    body = hdf5_file(2 * MiB, seed=1)
    upload = api.post("/api/v0/files/uploads", json={"size": len(body)}).json()

    put = httpx.put(upload["upload_url"], content=body, timeout=60)
    status = _wait_ready(api, upload["file_id"], poll)

    assert put.status_code == 200
    assert status["status"] == "READY"
    assert api.get(f"/api/v0/files/{upload['file_id']}").content == body


def test_presigned_multipart_round_trip(
    api: httpx.Client, hdf5_file: Callable[..., bytes], poll: Callable[..., None]
) -> None:
    body = hdf5_file(12 * MiB, seed=2)
    part_size = 5 * MiB
    upload = api.post("/api/v0/files/uploads", json={"size": len(body), "part_size": part_size}).json()
    assert len(upload["parts"]) == math.ceil(len(body) / part_size)

    etags = []
    for part in upload["parts"]:
        start = (part["part_number"] - 1) * part_size
        response = httpx.put(part["url"], content=body[start : start + part_size], timeout=60)
        etags.append({"part_number": part["part_number"], "etag": response.headers["etag"]})
    completed = api.post(upload["complete_url"], json={"parts": etags})
    status = _wait_ready(api, upload["file_id"], poll)
    downloaded = api.get(f"/api/v0/files/{upload['file_id']}")

    assert completed.status_code == 200
    assert status["status"] == "READY"
    assert downloaded.content == body
    assert api.delete(f"/api/v0/files/{upload['file_id']}").status_code == 200


def test_presigned_put_of_another_size_than_declared_is_rejected(
    api: httpx.Client, hdf5_file: Callable[..., bytes], poll: Callable[..., None]
) -> None:
    upload = api.post("/api/v0/files/uploads", json={"size": 100}).json()

    # moto checks no signature: on AWS the signed Content-Length already refuses this PUT.
    httpx.put(upload["upload_url"], content=hdf5_file(MiB), timeout=60)
    status = _wait_ready(api, upload["file_id"], poll)

    assert status["status"] == "REJECTED"
    assert "the upload declared 100" in status["reason"]


def test_presigned_url_used_again_after_ready_changes_nothing(
    api: httpx.Client, hdf5_file: Callable[..., bytes], poll: Callable[..., None]
) -> None:
    body = hdf5_file(100_000, seed=3)
    upload = api.post("/api/v0/files/uploads", json={"size": len(body)}).json()
    httpx.put(upload["upload_url"], content=body, timeout=60).raise_for_status()
    ready = _wait_ready(api, upload["file_id"], poll)

    again = httpx.put(upload["upload_url"], content=hdf5_file(100_000, seed=4), timeout=60)

    assert again.status_code == 200  # S3 takes it, as a new version of the key
    assert api.get(f"/api/v0/files/{upload['file_id']}/status").json() == ready
    assert api.get(f"/api/v0/files/{upload['file_id']}").content == body


def test_presigned_upload_of_non_hdf5_is_rejected(api: httpx.Client, poll: Callable[..., None]) -> None:
    upload = api.post("/api/v0/files/uploads", json={"size": 11}).json()

    httpx.put(upload["upload_url"], content=b"not an hdf5", timeout=60)
    status = _wait_ready(api, upload["file_id"], poll)

    assert status["status"] == "REJECTED"
    assert "not a valid HDF5" in status["reason"]
    assert api.get(f"/api/v0/files/{upload['file_id']}").status_code == 409


def test_openapi_docs_are_served(api: httpx.Client) -> None:
    assert api.get("/docs").status_code == 200
    assert "/api/v0/files" in api.get("/openapi.json").json()["paths"]
