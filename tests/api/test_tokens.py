"""Authentication at the API: every route but the public ones needs a caller; API tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from stratus.api.app import PUBLIC_PATHS

TOKENS = "/api/v0/tokens"
# A real file under each public greedy path.
GREEDY_EXAMPLES = {"/docs-assets/{proxy+}": "/docs-assets/swagger-ui.css", "/ui/{proxy+}": "/ui/app.js"}


def test_routes_refuse_requests_without_credential(anonymous_client: TestClient) -> None:
    response = anonymous_client.get("/api/v0/files/all")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer stratus_forged", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer"])
def test_routes_refuse_invalid_credentials(anonymous_client: TestClient, header: str) -> None:
    response = anonymous_client.get("/api/v0/executions", headers={"Authorization": header})

    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}


@pytest.mark.parametrize(
    "path", sorted(GREEDY_EXAMPLES.get(p, p) for p in PUBLIC_PATHS - {"/docs/oauth2-redirect"})
)
def test_public_paths_answer_without_credential(anonymous_client: TestClient, path: str) -> None:
    assert anonymous_client.get(path).status_code == 200


def test_create_token_shows_secret_once(client: TestClient) -> None:
    created = client.post(TOKENS, json={"name": "ci"})

    listed = client.get(TOKENS).json()

    assert created.status_code == 201
    assert created.json()["token"].startswith("stratus_")
    mine = [t for t in listed if t["token_id"] == created.json()["token_id"]]
    assert mine == [{k: v for k, v in created.json().items() if k != "token"}]


def test_created_token_authenticates_as_its_tenant(client: TestClient, anonymous_client: TestClient) -> None:
    token = client.post(TOKENS, json={"name": "ci"}).json()["token"]

    listed = anonymous_client.get(TOKENS, headers={"Authorization": f"Bearer {token}"})

    assert listed.status_code == 200
    assert {t["name"] for t in listed.json()} >= {"ci"}


def test_revoked_token_is_refused(client: TestClient, anonymous_client: TestClient) -> None:
    created = client.post(TOKENS, json={"name": "ci"}).json()

    revoked = client.delete(f"{TOKENS}/{created['token_id']}")

    assert revoked.status_code == 200
    answer = anonymous_client.get(TOKENS, headers={"Authorization": f"Bearer {created['token']}"})
    assert answer.status_code == 401


def test_tokens_of_another_tenant_are_invisible(
    client: TestClient, client_for: Callable[[str], TestClient]
) -> None:
    created = client.post(TOKENS, json={"name": "mine"}).json()
    other = client_for("acme")

    assert created["token_id"] not in {t["token_id"] for t in other.get(TOKENS).json()}
    assert other.delete(f"{TOKENS}/{created['token_id']}").status_code == 404
    assert client.get(TOKENS).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 65},
        {"name": "ci", "expires_in_days": 0},
        {"name": "ci", "tenant": "acme"},
    ],
)
def test_create_token_refuses_bad_bodies(client: TestClient, body: dict[str, object]) -> None:
    response = client.post(TOKENS, json=body)

    assert response.status_code == 422


def test_token_with_lifetime_shows_expiry(client: TestClient) -> None:
    created = client.post(TOKENS, json={"name": "ci", "expires_in_days": 30}).json()

    assert created["expires_at"] is not None


def test_tenant_header_cannot_choose_the_tenant(
    client: TestClient, client_for: Callable[[str], TestClient]
) -> None:
    client.post(TOKENS, json={"name": "local-only"})
    other = client_for("acme")

    listed = other.get(TOKENS, headers={"X-Tenant": "local", "X-Amzn-Tenant": "local"}).json()

    assert "local-only" not in {t["name"] for t in listed}
