"""The local stand-in for API Gateway's authorizer: every request but the public ones goes through the
stack's real AuthorizerFunction (a Lambda invoke into moto, with a payload-2.0 authorizer event), and the
decision is cached per Authorization header for the template's AuthorizerCacheSeconds, as on AWS.

Refusals are answered in our error shape (401 `unauthorized`); on AWS, HTTP APIs answer them themselves
(401 without a credential, 403 for a refused one) with `{"message": ...}`. Never imported on Lambda.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from starlette.datastructures import Headers

from stratus.api.app import create_app, is_public
from stratus.api.errors import error_response
from stratus.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Receive, Scope, Send

# How the launcher tells the API process which function authorizes and for how long decisions hold.
AUTHORIZER_FUNCTION_VARIABLE = "STRATUS_LOCAL_AUTHORIZER_FUNCTION"
AUTHORIZER_CACHE_VARIABLE = "STRATUS_LOCAL_AUTHORIZER_CACHE_SECONDS"
MAX_CACHED = 10_000
REFUSAL = "a valid credential is required: Authorization: Bearer <token>"


class LocalGateway:
    """ASGI middleware: authorize, then pass the request on with the caller in `aws.event`, as Mangum
    does with API Gateway's event on AWS."""

    def __init__(
        self,
        app: ASGIApp,
        authorize: Callable[[dict[str, Any]], dict[str, Any]],
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._authorize = authorize
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._decisions: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self._app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization")
        try:
            # API Gateway refuses a request without the identity source without calling the authorizer.
            decision = await self._decide(header, scope) if header else {"isAuthorized": False}
        except Exception:  # as API Gateway does when its authorizer fails: a 500, logged
            logger.exception("the authorizer failed")
            await error_response(500, "internal error", "internal_error")(scope, receive, send)
            return
        if not decision.get("isAuthorized"):
            refusal = error_response(401, REFUSAL, "unauthorized")
            refusal.headers["WWW-Authenticate"] = "Bearer"
            await refusal(scope, receive, send)
            return
        event = {"version": "2.0", "requestContext": {"authorizer": {"lambda": decision.get("context", {})}}}
        await self._app({**scope, "aws.event": event}, receive, send)

    async def _decide(self, header: str, scope: Scope) -> dict[str, Any]:
        now = self._clock()
        cached = self._decisions.get(header)
        if cached and cached[0] > now:
            return cached[1]
        decision = await anyio.to_thread.run_sync(self._authorize, authorizer_event(header, scope))
        if self._cache_seconds > 0:
            self._decisions[header] = (now + self._cache_seconds, decision)
            while len(self._decisions) > MAX_CACHED:
                self._decisions.popitem(last=False)
        return decision


def authorizer_event(header: str, scope: Scope) -> dict[str, Any]:
    """The payload-2.0 REQUEST event API Gateway sends a Lambda authorizer for this request."""
    method = scope["method"]
    path = scope["path"]
    now = datetime.now(UTC)
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:us-east-1:000000000000:local/$default/{method}{path}",
        "identitySource": [header],
        "routeKey": "ANY /{proxy+}",
        "rawPath": path,
        "rawQueryString": scope.get("query_string", b"").decode("latin-1"),
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "http": {
                "method": method,
                "path": path,
                "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
                "sourceIp": (scope.get("client") or ("127.0.0.1", 0))[0],
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "ANY /{proxy+}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
    }


def lambda_authorizer(function_name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Authorize by invoking the stack's authorizer function (moto runs our real handler)."""
    from stratus import aws

    def authorize(event: dict[str, Any]) -> dict[str, Any]:
        answer = aws.client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        payload = answer["Payload"].read()
        if answer.get("FunctionError"):
            raise RuntimeError(f"the authorizer failed: {payload[:500]!r}")
        decision: dict[str, Any] = json.loads(payload)
        return decision

    return authorize


def create_local_app() -> ASGIApp:
    """The API app behind the stand-in gateway (uvicorn's factory in the local stack)."""
    # The launcher's variables: this module is the local stack's entry point into the API process.
    function_name = os.environ[AUTHORIZER_FUNCTION_VARIABLE]
    cache_seconds = float(os.environ.get(AUTHORIZER_CACHE_VARIABLE, "0"))
    return LocalGateway(create_app(), lambda_authorizer(function_name), cache_seconds)
