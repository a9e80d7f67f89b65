"""Typed errors: every failure the client raises, mapped from the API's status and `code`.

StratusError                      .status (None: raised by the client itself), .code, .detail
├── ConnectionFailedError         the API could not be reached
├── UnauthorizedError             401
├── ForbiddenError                403
├── NotFoundError                 404
├── ConflictError                 409
│   ├── AlreadyExistsError, IllegalTransitionError, NotReadyError, InUseError
├── PayloadTooLargeError          413
├── UnsupportedMediaTypeError     415
├── InvalidInputError             422 (and parameters refused locally, before sending)
├── TooManyRequestsError          429 (.retry_after)
├── ServerError                   5xx
├── FileRejectedError             an upload that ingestion rejected (.reason)
├── JobFailedError                a job that ended FAILED (.record, .error_type)
│   └── JobStoppedError           … or STOPPED
└── WaitTimeoutError              a wait that ran past its timeout
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


class StratusError(Exception):
    """Base of every error the client raises; branch on ``code`` (the API's stable snake_case code)."""

    code = "error"

    def __init__(self, detail: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        where = f"{self.status} " if self.status is not None else ""
        return f"{self.detail} ({where}{self.code})"


class ConnectionFailedError(StratusError):
    """The API did not answer (wrong address, stack not running, network down)."""

    code = "connection_failed"


class UnauthorizedError(StratusError):
    code = "unauthorized"


class ForbiddenError(StratusError):
    code = "forbidden"


class NotFoundError(StratusError):
    code = "not_found"


class ConflictError(StratusError):
    code = "conflict"


class AlreadyExistsError(ConflictError):
    code = "already_exists"


class IllegalTransitionError(ConflictError):
    code = "illegal_transition"


class NotReadyError(ConflictError):
    code = "not_ready"


class InUseError(ConflictError):
    code = "file_in_use"


class PayloadTooLargeError(StratusError):
    code = "payload_too_large"


class UnsupportedMediaTypeError(StratusError):
    code = "unsupported_media_type"


class InvalidInputError(StratusError):
    """The request was refused as invalid; ``parameter`` names the parameter when one is to blame and
    ``errors`` holds FastAPI's per-field list when the API answered one."""

    code = "invalid_input"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        parameter: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail, status=status, code=code)
        self.parameter = parameter
        self.errors = errors or []


class TooManyRequestsError(StratusError):
    code = "too_many_requests"

    def __init__(self, detail: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(detail, status=status, code=code)
        self.retry_after: float | None = None


class ServerError(StratusError):
    code = "internal_error"


class FileRejectedError(StratusError):
    """Ingestion refused an uploaded file (not HDF5, truncated, wrong size); ``reason`` says why."""

    code = "rejected"

    def __init__(self, file_id: str, reason: str | None) -> None:
        super().__init__(f"file {file_id} was rejected: {reason or 'no reason given'}")
        self.file_id = file_id
        self.reason = reason


class JobFailedError(StratusError):
    """A job (execution, training, workflow) ended without success; ``record`` is its final record."""

    code = "job_failed"

    def __init__(self, detail: str, record: Any, error_type: str | None = None) -> None:
        super().__init__(detail)
        self.record = record
        self.error_type = error_type


class JobStoppedError(JobFailedError):
    code = "job_stopped"


class WaitTimeoutError(StratusError):
    code = "wait_timeout"


# The code decides first (several codes share a status), then the status.
ERROR_BY_CODE: Mapping[str, type[StratusError]] = {
    cls.code: cls
    for cls in (AlreadyExistsError, IllegalTransitionError, NotReadyError, InUseError, TooManyRequestsError)
} | {"algorithm_in_use": InUseError}
ERROR_BY_STATUS: dict[int, type[StratusError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: InvalidInputError,
    400: InvalidInputError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: InvalidInputError,
    429: TooManyRequestsError,
}


def describe_validation_errors(errors: list[dict[str, Any]]) -> str:
    """FastAPI's 422 list as one line: `body.size: Input should be a valid integer; …`."""
    parts = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", []))
        parts.append(f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg")))
    return "; ".join(parts) or "invalid request"


def error_from_response(response: httpx.Response) -> StratusError:
    """The typed error for an API answer of status ≥ 400 (a body that is not ours still maps)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail: Any = body.get("detail") if isinstance(body, dict) else None
    code = body.get("code") if isinstance(body, dict) else None
    errors: list[dict[str, Any]] = []
    if isinstance(detail, list):  # FastAPI's validation shape: no code, a list of fields
        errors = [e for e in detail if isinstance(e, dict)]
        detail = describe_validation_errors(errors)
    if not isinstance(detail, str):
        detail = response.text[:500] or response.reason_phrase or "request failed"
    status = response.status_code
    cls = ERROR_BY_CODE.get(code or "") or ERROR_BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else StratusError
    if cls is InvalidInputError:
        return InvalidInputError(detail, status=status, code=code, errors=errors)
    error = cls(detail, status=status, code=code)
    if isinstance(error, TooManyRequestsError):
        retry_after = response.headers.get("retry-after", "")
        error.retry_after = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else None
    return error
