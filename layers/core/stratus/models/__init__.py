"""Pydantic models at the edges, one module per resource."""

from stratus.models.algorithms import (
    AlgorithmDeployed,
    AlgorithmRecord,
    AlgorithmRegistered,
    AlgorithmVersionRecord,
)
from stratus.models.executions import (
    Execution,
    ExecutionCreate,
    ExecutionError,
    ExecutionPage,
    ExecutionRecord,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionStopped,
)
from stratus.models.files import (
    FILE_ID_PATTERN,
    CompletedPart,
    Deleted,
    File,
    FilePage,
    FileRecord,
    FileStatus,
    FileUploaded,
    ObjectCreated,
    Upload,
    UploadComplete,
    UploadCreate,
    UploadPart,
)
from stratus.models.ids import FileId
from stratus.models.jobs import Kpi

__all__ = [
    "AlgorithmDeployed",
    "AlgorithmRecord",
    "AlgorithmRegistered",
    "AlgorithmVersionRecord",
    "Execution",
    "ExecutionCreate",
    "ExecutionError",
    "ExecutionPage",
    "ExecutionRecord",
    "ExecutionStarted",
    "ExecutionStatus",
    "ExecutionStopped",
    "FILE_ID_PATTERN",
    "CompletedPart",
    "Deleted",
    "File",
    "FileId",
    "FilePage",
    "FileRecord",
    "FileStatus",
    "FileUploaded",
    "Kpi",
    "ObjectCreated",
    "Upload",
    "UploadComplete",
    "UploadCreate",
    "UploadPart",
]
