"""Samples API through the FastAPI app: requests the table cannot hold are the client's 4xx, and store
nothing."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from stratus.stores import Stores

OCTET = {"content-type": "application/octet-stream"}
# One record holds at most 400 KB (DynamoDB); 1,000 entries of a 500-character role name are more.
OVERSIZED_ROLE = "r" * 500


def _upload(client: TestClient, body: bytes) -> str:
    response = client.post("/api/v0/files", content=body, headers=OCTET)
    assert response.status_code == 200, response.text
    file_id: str = response.json()["file_id"]
    return file_id


def test_create_sample_too_big_for_one_record_is_422_and_pins_nothing(
    client: TestClient, stores: Stores, hdf5_file: Callable[..., bytes]
) -> None:
    file_id = _upload(client, hdf5_file())

    response = client.post("/api/v0/sample", json={"files": [{OVERSIZED_ROLE: [file_id]}] * 1000})

    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert client.get("/api/v0/sample/all").json() == []
    assert stores.files.get(file_id).held_by == frozenset()


def test_create_sample_refuses_a_file_repeated_in_a_role(
    client: TestClient, hdf5_file: Callable[..., bytes]
) -> None:
    file_id = _upload(client, hdf5_file())

    response = client.post("/api/v0/sample", json={"files": [{"input": [file_id, file_id]}]})

    assert response.status_code == 422
    assert "repeated" in response.json()["detail"][0]["msg"]
    assert client.get("/api/v0/sample/all").json() == []
