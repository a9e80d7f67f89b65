"""The local stand-in for API Gateway's authorizer: decisions, their cache, the event it sends."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from starlette.responses import JSONResponse
from stratus.local.gateway import LocalGateway


class Authorizer:
    """Counts the events it decides, allowing one token (our own seam, not a library's)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        if event["identitySource"] == ["Bearer good"]:
            return {"isAuthorized": True, "context": {"tenant": "acme"}}
        return {"isAuthorized": False}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def gateway(authorizer: Authorizer, clock: Clock, cache_seconds: float = 60) -> TestClient:
    async def echo(scope: Any, receive: Any, send: Any) -> None:
        identity = scope.get("aws.event", {}).get("requestContext", {}).get("authorizer", {}).get("lambda")
        await JSONResponse({"path": scope["path"], "identity": identity})(scope, receive, send)

    return TestClient(LocalGateway(echo, authorizer, cache_seconds, clock))


def test_gateway_passes_the_callers_identity_on() -> None:
    client = gateway(Authorizer(), Clock())

    answer = client.get("/api/v0/files/all", headers={"Authorization": "Bearer good"})

    assert answer.json()["identity"] == {"tenant": "acme"}


def test_gateway_refuses_without_asking_when_no_credential_is_sent() -> None:
    authorizer = Authorizer()
    client = gateway(authorizer, Clock())

    answer = client.get("/api/v0/files/all")

    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"
    assert authorizer.events == []


def test_gateway_refuses_what_the_authorizer_denies() -> None:
    client = gateway(Authorizer(), Clock())

    answer = client.get("/api/v0/files/all", headers={"Authorization": "Bearer bad"})

    assert answer.status_code == 401


def test_gateway_caches_decisions_per_header_until_they_expire() -> None:
    authorizer = Authorizer()
    clock = Clock()
    client = gateway(authorizer, clock, cache_seconds=60)

    for _ in range(3):
        client.get("/a", headers={"Authorization": "Bearer good"})
    clock.now = 61
    client.get("/a", headers={"Authorization": "Bearer good"})

    assert len(authorizer.events) == 2


def test_gateway_lets_public_paths_through() -> None:
    authorizer = Authorizer()
    client = gateway(authorizer, Clock())

    answer = client.get("/health")

    assert answer.status_code == 200
    assert answer.json()["identity"] is None


def test_gateway_sends_a_payload_2_request_event() -> None:
    authorizer = Authorizer()
    client = gateway(authorizer, Clock())

    client.get("/api/v0/executions?limit=2", headers={"Authorization": "Bearer good"})

    event = authorizer.events[0]
    assert (event["version"], event["type"]) == ("2.0", "REQUEST")
    assert event["headers"]["authorization"] == "Bearer good"
    assert event["rawQueryString"] == "limit=2"
    assert event["requestContext"]["http"]["method"] == "GET"
