"""The one place errors become HTTP responses: `{"detail", "code"}` bodies (FastAPI's list shape for
invalid fields and malformed JSON), and the OpenAPI document that says so."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from stratus.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    StratusError,
    TooManyRequestsError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)
from stratus.observability import logger

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATUS_BY_ERROR: dict[type[StratusError], int] = {
    UnauthorizedError: 401,
    NotFoundError: 404,
    ConflictError: 409,
    ForbiddenError: 403,
    InvalidInputError: 422,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    TooManyRequestsError: 429,
}
# Starlette's own errors (unknown route, wrong method) get a code too, so every body has one shape.
CODE_BY_STATUS = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
# A Starlette HTTPException of any other status (none is raised today) still gets a code.
FALLBACK_HTTP_CODE = "http_error"
INTERNAL_ERROR_CODE = "internal_error"
# What FastAPI answers for malformed JSON; NaN and Infinity (not JSON, though Python reads them) get it too.
NON_FINITE_NUMBER = {
    "type": "json_invalid",
    "loc": ["body"],
    "msg": "JSON decode error",
    "input": {},
    "ctx": {"error": "NaN and Infinity are not JSON numbers"},
}


def status_of(error: StratusError) -> int:
    """HTTP status for a domain error, looked up along its class hierarchy."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_response(status: int, detail: str, code: str) -> JSONResponse:
    """The one error body shape."""
    return JSONResponse(status_code=status, content={"detail": detail, "code": code})


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StratusError)
    response = error_response(status_of(exc), exc.detail, exc.code)
    if isinstance(exc, TooManyRequestsError):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, UnauthorizedError):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, FALLBACK_HTTP_CODE)
    return error_response(exc.status_code, str(exc.detail), code)


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception through the mapping above, and document the error shapes."""
    app.add_exception_handler(StratusError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # The last one added is the outermost: an unexpected error anywhere inside is answered.
    app.add_middleware(RefuseNonFiniteNumbers)
    app.add_middleware(AnswerUnexpectedErrors)
    document_errors(app)


class AnswerUnexpectedErrors:
    """ASGI middleware: an exception no handler took is logged and answered 500 `internal_error` (never
    with its text), and the connection stays open for the client's next request.

    Not ``add_exception_handler(Exception, ...)``: Starlette answers those in its outermost middleware and
    then re-raises, so uvicorn closes the keep-alive connection unannounced and the client's next request
    on it fails (ECONNRESET).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as exc:
            if started:
                raise  # part of an answer is out: only closing the connection can tell the client
            logger.exception("unhandled error", exc_info=exc)
            await error_response(500, "internal error", INTERNAL_ERROR_CODE)(scope, receive, send)


class RefuseNonFiniteNumbers:
    """ASGI middleware: a JSON body holding NaN or Infinity anywhere is answered 422 before a route sees it
    (Python's parser reads them as floats, which no model, store or renderer can take)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(Headers(scope=scope).get("content-type", "")):
            await self.app(scope, receive, send)
            return
        messages = await _read_body(receive)
        if _has_non_finite_number(b"".join(m.get("body", b"") for m in messages)):
            await JSONResponse(status_code=422, content={"detail": [NON_FINITE_NUMBER]})(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _is_json(content_type: str) -> bool:
    # The bodies FastAPI parses as JSON (without a content type it does not parse them).
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _read_body(receive: Receive) -> list[Message]:
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


class _NonFiniteNumberError(ValueError):
    """The JSON text holds NaN, Infinity or -Infinity."""


def _refuse_constant(name: str) -> NoReturn:
    raise _NonFiniteNumberError(name)


def _has_non_finite_number(body: bytes) -> bool:
    if b"NaN" not in body and b"Infinity" not in body:
        return False  # nearly every body: not parsed twice
    try:
        json.loads(body, parse_constant=_refuse_constant)
    except _NonFiniteNumberError:
        return True
    except (ValueError, RecursionError):
        return False  # malformed otherwise: FastAPI answers it as any malformed JSON
    return False  # the words were inside strings


# --- the OpenAPI document ------------------------------------------------------------------------------

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "title": "Detail", "description": "What went wrong, for people"},
        "code": {
            "type": "string",
            "title": "Code",
            "description": "What went wrong, for programs: docs/api.md lists every code",
        },
    },
    "required": ["detail", "code"],
}
_JSON = "application/json"
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Invalid fields and malformed JSON get FastAPI's list; our own checks (parameters, devices, cursors) ours.
_INVALID_INPUT = {"anyOf": [{"$ref": "#/components/schemas/HTTPValidationError"}, _ERROR_REF]}
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# Every route can answer an error its own table does not name (401 without a credential, 405, 413 ...).
_ANY_CLIENT_ERROR = {"description": "Any other client error", "content": {_JSON: {"schema": _ERROR_REF}}}


def document_errors(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document give every error response its real body shape."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        return app.openapi_schema or with_error_shapes(build())

    # FastAPI's documented way to change the document: replace the method that builds (and caches) it.
    app.openapi = openapi  # type: ignore[method-assign]


def with_error_shapes(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (changed in place) with the Error schema, and every 4xx/5xx response of every
    operation answering it (422: FastAPI's HTTPValidationError or it)."""
    document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    validation_documented = "HTTPValidationError" in document["components"]["schemas"]
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status == "422" and validation_documented:
                    response["content"] = {_JSON: {"schema": _INVALID_INPUT}}
                elif status[0] in "45":
                    response["content"] = {_JSON: {"schema": _ERROR_REF}}
            responses.setdefault("4XX", _ANY_CLIENT_ERROR)
    return document
