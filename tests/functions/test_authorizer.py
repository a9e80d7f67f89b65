"""The `authorizer` Lambda with API Gateway's payload-2.0 REQUEST events: API tokens and Cognito JWTs."""

from __future__ import annotations

import gzip
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import moto.cognitoidp
import pytest
from stratus import aws as aws_clients
from stratus.models.tokens import TokenCreate, TokenRecord
from stratus.services.tokens import hash_token, issue
from stratus.settings import Settings, get_settings
from stratus.stores import Stores

from tests.conftest import FakeLambdaContext

# moto signs every pool's tokens with one key pair; its public half is shipped with moto.
MOTO_JWKS = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-public.json.gz"


@pytest.fixture
def authorize(
    settings: Settings, function_handler: Callable[[str], Callable[..., Any]], load_event: Callable[..., Any]
) -> Callable[[str], dict[str, Any]]:
    handler = function_handler("authorizer")
    return lambda header: handler(load_event("authorizer/request", authorization=header), FakeLambdaContext())


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    """moto's public keys served over HTTP, as Cognito serves a pool's (decorator mode has no server)."""
    body = gzip.decompress(MOTO_JWKS.read_bytes())

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  # http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture
def user_pool(settings: Settings, monkeypatch: pytest.MonkeyPatch, jwks_url: str) -> dict[str, str]:
    """A Cognito pool and app client in moto, with the authorizer configured for them."""
    cognito = aws_clients.client("cognito-idp")
    pool_id = cognito.create_user_pool(
        PoolName="users", Schema=[{"Name": "tenant", "AttributeDataType": "String", "Mutable": True}]
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="api", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    monkeypatch.setenv("OIDC_ISSUER", f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}")
    monkeypatch.setenv("OIDC_AUDIENCES", client_id)
    monkeypatch.setenv("JWKS_URL", jwks_url)
    get_settings.cache_clear()
    return {"pool_id": pool_id, "client_id": client_id}


def sign_in(pool: dict[str, str], attributes: list[dict[str, str]], kind: str = "IdToken") -> str:
    cognito = aws_clients.client("cognito-idp")
    username = f"user-{uuid.uuid4().hex[:8]}"
    cognito.admin_create_user(
        UserPoolId=pool["pool_id"], Username=username, UserAttributes=attributes, MessageAction="SUPPRESS"
    )
    cognito.admin_set_user_password(
        UserPoolId=pool["pool_id"], Username=username, Password="Correct-Horse-42", Permanent=True
    )
    answer = cognito.admin_initiate_auth(
        UserPoolId=pool["pool_id"],
        ClientId=pool["client_id"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": "Correct-Horse-42"},
    )
    return str(answer["AuthenticationResult"][kind])


def new_token(stores: Stores, tenant: str = "acme") -> str:
    return issue(TokenCreate(name="ci"), tenant, stores.tokens, time.time()).token


def test_authorizer_allows_api_token_with_its_tenant(authorize: Callable[..., Any], stores: Stores) -> None:
    token = new_token(stores)

    answer = authorize(f"Bearer {token}")

    assert answer["isAuthorized"] is True
    assert answer["context"]["tenant"] == "acme"
    assert answer["context"]["method"] == "token"


@pytest.mark.parametrize("header", ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer stratus_not-a-token"])
def test_authorizer_refuses_missing_or_unknown_credentials(
    authorize: Callable[..., Any], header: str
) -> None:
    answer = authorize(header)

    assert answer == {"isAuthorized": False}


def test_authorizer_refuses_revoked_token(authorize: Callable[..., Any], stores: Stores) -> None:
    created = issue(TokenCreate(name="ci"), "acme", stores.tokens, time.time())
    stores.tokens.revoke(created.token_id, "acme")

    answer = authorize(f"Bearer {created.token}")

    assert answer == {"isAuthorized": False}


def test_authorizer_refuses_expired_token(authorize: Callable[..., Any], stores: Stores) -> None:
    token = "stratus_expired-secret"
    record = TokenRecord(
        tenant="acme",
        created_at=time.time() - 100,
        token_id=str(uuid.uuid4()),
        name="old",
        token_hash=hash_token(token),
        prefix=token[:12],
        expires_at=int(time.time()) - 1,
    )
    stores.tokens.create(record)

    answer = authorize(f"Bearer {token}")

    assert answer == {"isAuthorized": False}


def test_authorizer_never_keeps_the_secret(stores: Stores) -> None:
    created = issue(TokenCreate(name="ci"), "acme", stores.tokens, time.time())

    stored = stores.tokens.get(created.token_id, "acme")

    assert created.token not in stored.model_dump_json()
    assert stored.token_hash == hash_token(created.token)


def test_authorizer_allows_cognito_id_token_with_tenant_claim(
    user_pool: dict[str, str], authorize: Callable[..., Any]
) -> None:
    token = sign_in(user_pool, [{"Name": "custom:tenant", "Value": "acme"}])

    answer = authorize(f"Bearer {token}")

    assert answer["isAuthorized"] is True
    assert answer["context"]["tenant"] == "acme"
    assert answer["context"]["method"] == "jwt"


def test_authorizer_refuses_id_token_without_tenant(
    user_pool: dict[str, str], authorize: Callable[..., Any]
) -> None:
    token = sign_in(user_pool, [])

    assert authorize(f"Bearer {token}") == {"isAuthorized": False}


def test_authorizer_refuses_tampered_jwt(user_pool: dict[str, str], authorize: Callable[..., Any]) -> None:
    header, payload, signature = sign_in(user_pool, [{"Name": "custom:tenant", "Value": "acme"}]).split(".")
    forged = f"{header}.{payload[:-4]}AAAA.{signature}"

    assert authorize(f"Bearer {forged}") == {"isAuthorized": False}


def test_authorizer_refuses_token_of_another_app_client(
    user_pool: dict[str, str], authorize: Callable[..., Any]
) -> None:
    cognito = aws_clients.client("cognito-idp")
    other = cognito.create_user_pool_client(
        UserPoolId=user_pool["pool_id"],
        ClientName="other",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    token = sign_in({**user_pool, "client_id": other}, [{"Name": "custom:tenant", "Value": "acme"}])

    assert authorize(f"Bearer {token}") == {"isAuthorized": False}


def test_authorizer_refuses_jwt_when_no_issuer_is_configured(
    user_pool: dict[str, str],
    function_handler: Callable[[str], Callable[..., Any]],
    load_event: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = sign_in(user_pool, [{"Name": "custom:tenant", "Value": "acme"}])
    monkeypatch.delenv("OIDC_ISSUER")
    get_settings.cache_clear()
    handler = function_handler("authorizer")

    answer = handler(load_event("authorizer/request", authorization=f"Bearer {token}"), FakeLambdaContext())

    assert answer == {"isAuthorized": False}
