"""The error mapping: NaN and Infinity in JSON bodies are 422s, an unexpected error is a 500 that keeps the
connection, and the OpenAPI document gives every error response the shape it really has."""

from __future__ import annotations

import json
import math
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from stratus import errors
from stratus.algorithms import runtime  # noqa: F401 (its InputDataError is a domain error too)
from stratus.api.errors import CODE_BY_STATUS, FALLBACK_HTTP_CODE, INTERNAL_ERROR_CODE, status_of

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
JSON = {"content-type": "application/json"}
BOOM = "/api/v0/test-boom"
EXECUTE = {"algorithm_id": UNKNOWN_ID, "input_dataset_ids": [UNKNOWN_ID]}
EXECUTE_BODY = json.dumps(EXECUTE).encode()
# Python's json writes -math.inf as -Infinity, as a careless client would send it.
EXECUTE_WITH_INFINITY = json.dumps({**EXECUTE, "additional_parameters": {"t": [-math.inf]}}).encode()


class Boom(Exception):
    """A bug of ours the error mapping has never heard of."""


def _raise_boom() -> None:
    raise Boom("secret internals")


@pytest.fixture
def booming_app(gateway_app: FastAPI) -> FastAPI:
    """The API app plus one route that fails with an unexpected error."""
    gateway_app.add_api_route(BOOM, _raise_boom)
    return gateway_app


@pytest.fixture
def served(booming_app: FastAPI, poll: Callable[..., None]) -> Iterator[int]:
    """The app on uvicorn as the local stack runs it (httptools, uvloop), in a thread; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        booming_app, http="httptools", loop="uvloop", log_level="critical", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    poll(lambda: server.started, 10)
    yield listener.getsockname()[1]
    server.should_exit = True
    thread.join(10)


def _exchange(connection: socket.socket, path: str) -> bytes:
    """Send one GET on a kept-alive connection and read its whole answer ("" when the server hung up)."""
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = connection.recv(65536)
        if not chunk:
            return answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    headers = dict(line.lower().split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int(headers[b"content-length"])
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


# NaN and Infinity


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v0/files/uploads", b'{"size": NaN}'),
        ("/api/v0/files/uploads", b'{"size": Infinity}'),
        ("/api/v0/execute-algorithm", EXECUTE_WITH_INFINITY),
    ],
    ids=["nan", "infinity", "nested-minus-infinity"],
)
def test_non_finite_number_in_json_body_is_422(client: TestClient, path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers=JSON)

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["type"], error["loc"]) == ("json_invalid", ["body"])
    assert "NaN and Infinity" in error["ctx"]["error"]


def test_non_finite_number_stores_nothing(client: TestClient) -> None:
    client.post("/api/v0/files/uploads", content=b'{"size": NaN}', headers=JSON)

    assert client.get("/api/v0/files").json()["items"] == []


def test_nan_inside_a_string_is_just_text(client: TestClient) -> None:
    body = b'{"files": [{"input": ["%s"]}], "tags": ["NaN", "Infinity"]}' % UNKNOWN_ID.encode()

    response = client.post("/api/v0/sample", content=body, headers=JSON)

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_malformed_json_keeps_fastapis_answer(client: TestClient) -> None:
    response = client.post("/api/v0/files/uploads", content=b'{"size": NaN', headers=JSON)

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


# unexpected errors


def test_unexpected_error_is_500_without_its_text(booming_app: FastAPI, client: TestClient) -> None:
    response = client.get(BOOM)

    assert response.status_code == 500
    assert response.json() == {"detail": "internal error", "code": "internal_error"}


def test_unexpected_error_keeps_the_connection_open(served: int) -> None:
    with socket.create_connection(("127.0.0.1", served), timeout=10) as connection:
        failed = _exchange(connection, BOOM)
        after = _exchange(connection, "/health")

    assert failed.startswith(b"HTTP/1.1 500 ")
    assert b'"code":"internal_error"' in failed
    assert b"connection: close" not in failed.lower()
    assert after.startswith(b"HTTP/1.1 200 ")


# the OpenAPI document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_openapi_documents_the_error_shape(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["detail", "code"]
    assert {name: spec["type"] for name, spec in error["properties"].items()} == {
        "detail": "string",
        "code": "string",
    }


def test_openapi_gives_every_operation_its_error_shapes(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert responses["4XX"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }, (method, path)
        if "422" in responses:
            assert responses["422"]["content"]["application/json"]["schema"] == {
                "anyOf": [
                    {"$ref": "#/components/schemas/HTTPValidationError"},
                    {"$ref": "#/components/schemas/Error"},
                ]
            }, (method, path)


STOP_UNKNOWN = f"/api/v0/executions/{UNKNOWN_ID}/stop"
STATUS = "/api/v0/files/{file_id}/status"


@pytest.mark.parametrize(
    ("method", "path", "template", "params", "body"),
    [
        ("get", "/api/v0/files", "/api/v0/files", {"limit": 0}, None),
        ("get", "/api/v0/files", "/api/v0/files", {"cursor": "forged"}, None),
        ("get", STATUS.format(file_id=UNKNOWN_ID), STATUS, None, None),
        ("get", STATUS.format(file_id="not-a-uuid"), STATUS, None, None),
        ("post", "/api/v0/files/uploads", "/api/v0/files/uploads", None, b'{"size": NaN}'),
        ("post", "/api/v0/execute-algorithm", "/api/v0/execute-algorithm", None, EXECUTE_BODY),
        ("post", STOP_UNKNOWN, "/api/v0/executions/{execution_id}/stop", None, None),
    ],
    ids=["fastapi-422", "our-422", "404", "bad-id-422", "json-422", "404-of-a-body", "404-stop"],
)
def test_error_answers_match_the_documented_schema(
    client: TestClient,
    method: str,
    path: str,
    template: str,
    params: dict[str, Any] | None,
    body: bytes | None,
) -> None:
    document = client.get("/openapi.json").json()
    response = client.request(method, path, params=params, content=body, headers=JSON if body else None)

    responses = document["paths"][template][method]["responses"]
    status = str(response.status_code)
    documented = responses[status] if status in responses else responses["4XX"]
    schema = documented["content"]["application/json"]["schema"]
    assert response.status_code >= 400
    jsonschema.validate(response.json(), {**schema, "components": document["components"]})


# docs/api.md


def _documented_codes() -> dict[str, str]:
    """docs/api.md's error table: code → status as written."""
    section = API_DOC.read_text().split("## Errors", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+) \| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    return {code: status.strip() for status, code in rows}


def _domain_errors() -> list[type[errors.StratusError]]:
    found: list[type[errors.StratusError]] = []
    pending = list(errors.StratusError.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_docs_list_every_error_code_with_its_status() -> None:
    # status_of reads only the class of the error it is given.
    answered = {cls.code: str(status_of(cls.__new__(cls))) for cls in _domain_errors()}
    answered |= {code: str(status) for status, code in CODE_BY_STATUS.items()}
    answered |= {INTERNAL_ERROR_CODE: "500", FALLBACK_HTTP_CODE: "any other"}

    assert _documented_codes() == answered
