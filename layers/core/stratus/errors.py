"""The one error hierarchy of Stratus; `code` is the stable contract clients and ASL branch on.

StratusError
├── NotFoundError                  404
├── ConflictError                  409
│   ├── AlreadyExistsError
│   ├── IllegalTransitionError
│   ├── NotReadyError
│   └── FileInUseError
├── ForbiddenError                 403
├── InvalidInputError              422
├── PayloadTooLargeError           413
└── UnsupportedMediaTypeError      415
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


class FileInUseError(ConflictError):
    """The file is an input of an execution that has not ended, so it cannot be deleted yet."""

    code = "file_in_use"


class ForbiddenError(StratusError):
    """The resource exists but its settings forbid this (e.g. exporting a non-exportable algorithm)."""

    code = "forbidden"


class InvalidInputError(StratusError):
    """The client sent something we cannot accept (bad HDF5, bad field)."""

    code = "invalid_input"


class PayloadTooLargeError(StratusError):
    """The body is over a size limit."""

    code = "payload_too_large"


class UnsupportedMediaTypeError(StratusError):
    """The body's content type is not one the route accepts."""

    code = "unsupported_media_type"
