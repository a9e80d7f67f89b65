"""The one error hierarchy of Stratus; `code` is the stable contract clients and ASL branch on.

StratusError
├── NotFoundError                  404
│   └── NoPlotError
├── ConflictError                  409
│   ├── AlreadyExistsError
│   ├── IllegalTransitionError
│   ├── NotReadyError
│   ├── EnvironmentFailedError
│   ├── FileInUseError
│   ├── AlgorithmInUseError
│   └── RunSlotsBusyError
├── UnauthorizedError              401
├── ForbiddenError                 403
├── InvalidInputError              422
│   └── InvalidCursorError
├── PayloadTooLargeError           413
├── UnsupportedMediaTypeError      415
├── TooManyRequestsError           429
└── WebhookDeliveryError           (never answered: the webhook queue retries)
"""

from __future__ import annotations


class StratusError(Exception):
    """Base of every domain error; the message is written for humans."""

    code = "stratus_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(StratusError):
    """The resource does not exist, has expired, or belongs to someone else."""

    code = "not_found"


class NoPlotError(NotFoundError):
    """A campaign has no plot yet: none of its trials has a result."""

    code = "no_plot"


class ConflictError(StratusError):
    """The request conflicts with the resource's current state."""

    code = "conflict"


class AlreadyExistsError(ConflictError):
    """A create hit an existing id."""

    code = "already_exists"


class IllegalTransitionError(ConflictError):
    """A status change not allowed from the record's current status."""

    code = "illegal_transition"


class NotReadyError(ConflictError):
    """The resource exists but cannot be used yet (or any more)."""

    code = "not_ready"


class EnvironmentFailedError(ConflictError):
    """The algorithm version's declared dependencies could not be installed (pip's message says why): no
    job of it can run until a fixed version is deployed."""

    code = "environment_failed"


class FileInUseError(ConflictError):
    """The file is an input of an execution that has not ended, so it cannot be deleted yet."""

    code = "file_in_use"


class AlgorithmInUseError(ConflictError):
    """An algorithm version that a job which has not ended runs, so it cannot be deleted yet."""

    code = "algorithm_in_use"


class RunSlotsBusyError(ConflictError):
    """The tenant runs as many jobs as it may; the state machine retries this job's start until one ends
    (the class name is matched by the state machines' Retry)."""

    code = "run_slots_busy"


class UnauthorizedError(StratusError):
    """The request carries no credential, or one that is invalid, expired or revoked."""

    code = "unauthorized"


class ForbiddenError(StratusError):
    """The resource exists but its settings forbid this (exporting a non-exportable algorithm), or it is
    read-only to the caller (deleting a built-in algorithm)."""

    code = "forbidden"


class InvalidInputError(StratusError):
    """The client sent something we cannot accept (bad HDF5, bad field)."""

    code = "invalid_input"


class InvalidCursorError(InvalidInputError):
    """A page cursor we did not issue for this list (forged, altered, or another list's)."""

    code = "invalid_cursor"


class PayloadTooLargeError(StratusError):
    """The body is over a size limit."""

    code = "payload_too_large"


class UnsupportedMediaTypeError(StratusError):
    """The body's content type is not one the route accepts."""

    code = "unsupported_media_type"


class TooManyRequestsError(StratusError):
    """A per-tenant limit is reached; the client may retry after ``retry_after_s`` seconds."""

    code = "too_many_requests"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class WebhookDeliveryError(StratusError):
    """A webhook receiver did not answer 2xx (or at all); raised in the webhooks function so the queue
    delivers the event again later, never answered to a client."""

    code = "webhook_delivery_failed"
