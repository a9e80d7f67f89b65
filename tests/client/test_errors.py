"""API answers mapped to typed errors (stratus_client.errors)."""

from __future__ import annotations

import httpx
import pytest
from stratus_client.errors import (
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InUseError,
    InvalidInputError,
    NotFoundError,
    NotReadyError,
    ServerError,
    StratusError,
    TooManyRequestsError,
    UnauthorizedError,
    error_from_response,
)


def _answer(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "unauthorized", UnauthorizedError),
        (403, "forbidden", ForbiddenError),
        (404, "not_found", NotFoundError),
        (409, "conflict", ConflictError),
        (409, "illegal_transition", IllegalTransitionError),
        (409, "not_ready", NotReadyError),
        (409, "file_in_use", InUseError),
        (409, "algorithm_in_use", InUseError),
        (422, "invalid_input", InvalidInputError),
        (500, "internal_error", ServerError),
    ],
)
def test_error_from_response_maps_status_and_code(status: int, code: str, expected: type) -> None:
    error = error_from_response(_answer(status, {"detail": "what happened", "code": code}))

    assert type(error) is expected
    assert (error.status, error.code, error.detail) == (status, code, "what happened")


def test_error_from_response_reads_fastapis_validation_list() -> None:
    body = {"detail": [{"loc": ["body", "size"], "msg": "Input should be a valid integer", "type": "int"}]}

    error = error_from_response(_answer(422, body))

    assert isinstance(error, InvalidInputError)
    assert error.detail == "body.size: Input should be a valid integer"
    assert error.errors[0]["loc"] == ["body", "size"]


def test_error_from_response_keeps_retry_after() -> None:
    body = {"detail": "too many", "code": "too_many_requests"}

    error = error_from_response(_answer(429, body, {"Retry-After": "7"}))

    assert isinstance(error, TooManyRequestsError)
    assert error.retry_after == 7.0


def test_error_from_response_maps_a_body_that_is_not_ours() -> None:
    error = error_from_response(httpx.Response(502, text="Bad Gateway"))

    assert isinstance(error, ServerError)
    assert error.detail == "Bad Gateway"


def test_error_str_names_detail_status_and_code() -> None:
    assert str(StratusError("gone", status=404, code="not_found")) == "gone (404 not_found)"
