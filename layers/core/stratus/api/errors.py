"""The one place domain errors become HTTP responses: `{"detail", "code"}` bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stratus.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    StratusError,
    UnsupportedMediaTypeError,
)
from stratus.observability import logger

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

STATUS_BY_ERROR: dict[type[StratusError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    ForbiddenError: 403,
    InvalidInputError: 422,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
}
# Starlette's own errors (unknown route, wrong method) get a code too, so every body has one shape.
CODE_BY_STATUS = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


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
    return error_response(status_of(exc), exc.detail, exc.code)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, "http_error")
    return error_response(exc.status_code, str(exc.detail), code)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal error", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception through the mapping above."""
    app.add_exception_handler(StratusError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
