"""Stratus client: a typed SDK (``Client``, ``AsyncClient``) and the ``stratus`` command line.

It talks to the API over HTTP only and never imports the server's packages."""

from __future__ import annotations

from stratus_client.async_client import AsyncClient
from stratus_client.client import Client
from stratus_client.errors import (
    AlreadyExistsError,
    ConflictError,
    ConnectionFailedError,
    FileRejectedError,
    ForbiddenError,
    IllegalTransitionError,
    InUseError,
    InvalidInputError,
    JobFailedError,
    JobStoppedError,
    NotFoundError,
    NotReadyError,
    PayloadTooLargeError,
    ServerError,
    StratusError,
    TooManyRequestsError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    WaitTimeoutError,
)
from stratus_client.models import (
    Algorithm,
    Checkpoint,
    Execution,
    FileInfo,
    LogPage,
    Sample,
    Token,
    Training,
    Workflow,
)
from stratus_client.references import StepSpec, WorkflowSpec
from stratus_client.schema import check_parameters

__all__ = [
    "Algorithm",
    "AlreadyExistsError",
    "AsyncClient",
    "Checkpoint",
    "Client",
    "ConflictError",
    "ConnectionFailedError",
    "Execution",
    "FileInfo",
    "FileRejectedError",
    "ForbiddenError",
    "IllegalTransitionError",
    "InUseError",
    "InvalidInputError",
    "JobFailedError",
    "JobStoppedError",
    "LogPage",
    "NotFoundError",
    "NotReadyError",
    "PayloadTooLargeError",
    "Sample",
    "ServerError",
    "StepSpec",
    "StratusError",
    "Token",
    "TooManyRequestsError",
    "Training",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
    "WaitTimeoutError",
    "Workflow",
    "WorkflowSpec",
    "check_parameters",
]
