"""Request dependencies: an id that cannot be one (not a uuid4) is a 422 in every path and query, before
any lookup could answer 404."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from stratus.api.deps import wait_seconds

BAD_IDS = ["not-an-id", "00000000-0000-0000-0000-000000000000", "3F2B1C9E-8A7D-4E6F-9B1A-2C3D4E5F6A7B"]
ROUTES = [
    ("get", "/api/v0/files/{id}/status", None),
    ("get", "/api/v0/executions/{id}", None),
    ("get", "/api/v0/executions/{id}/logs", None),
    ("get", "/api/v0/executions", "algorithm_id"),
    ("get", "/api/v0/training/{id}", None),
    ("get", "/api/v0/training/{id}/logs", None),
    ("get", "/api/v0/sample/{id}", None),
    ("delete", "/api/v0/sample/{id}", None),
    ("get", "/api/v0/checkpoint/{id}", None),
    ("delete", "/api/v0/checkpoint/{id}", None),
    ("delete", "/api/v0/deploy/algorithm/{id}", None),
    ("get", "/api/v0/algorithm/threshold/1/export", "checkpoint_id"),
]


ROUTE_IDS = [f"{method} {route} {query or ''}".strip() for method, route, query in ROUTES]


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=["word", "not-v4", "uppercase"])
@pytest.mark.parametrize(("method", "route", "query"), ROUTES, ids=ROUTE_IDS)
def test_malformed_id_is_422(
    client: TestClient, method: str, route: str, query: str | None, bad_id: str
) -> None:
    params: dict[str, Any] | None = {query: bad_id} if query else None

    response = client.request(method, route.format(id=bad_id), params=params)

    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == "string_pattern_mismatch"


@pytest.mark.parametrize(
    ("prefer", "seconds"),
    [
        ("wait=10", 10),
        ("respond-async, wait=5", 5),
        ("Wait = 7", 7),
        ("wait=100", 25),
        ("wait=0", None),
        ("wait=soon", None),
        ("respond-async", None),
        (None, None),
    ],
)
def test_wait_seconds_reads_prefer_wait_and_ignores_the_rest(prefer: str | None, seconds: int | None) -> None:
    assert wait_seconds(prefer) == seconds
