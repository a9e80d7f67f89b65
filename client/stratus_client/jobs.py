"""Waiting for a job: what to poll, how often, where its log stands, and how it ended."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from stratus_client import endpoints
from stratus_client.errors import JobFailedError, JobStoppedError, WaitTimeoutError

if TYPE_CHECKING:
    from stratus_client.endpoints import Call
    from stratus_client.models import LogPage

# Poll fast at first (short jobs end in a second locally), then back off to spare the API.
POLL_FIRST_S = 0.2
POLL_MAX_S = 2.0
POLL_GROWTH = 1.5
JobKind = Literal["execution", "training", "workflow"]


@dataclass
class Backoff:
    """How long to sleep between polls of ``what``: growing intervals, up to a timeout."""

    what: str
    timeout_s: float | None = None
    interval_s: float = POLL_FIRST_S
    started: float = field(default_factory=time.monotonic)

    def next_delay(self) -> float:
        """Seconds to sleep before polling again. Raises WaitTimeoutError past the timeout."""
        if self.timeout_s is not None and time.monotonic() - self.started > self.timeout_s:
            raise WaitTimeoutError(f"{self.what} did not end within {self.timeout_s:g} s")
        delay = self.interval_s
        self.interval_s = min(self.interval_s * POLL_GROWTH, POLL_MAX_S)
        return delay


@dataclass
class JobWatch:
    """Following one job until it ends."""

    kind: JobKind
    job_id: str
    timeout_s: float | None = None
    next_line: int = 0
    backoff: Backoff = field(init=False)

    def __post_init__(self) -> None:
        self.backoff = Backoff(f"{self.kind} {self.job_id}", self.timeout_s)

    def record_call(self) -> Call[Any]:
        """The request for the job's record."""
        if self.kind == "execution":
            return endpoints.get_execution(self.job_id)
        if self.kind == "training":
            return endpoints.get_training(self.job_id)
        return endpoints.get_workflow(self.job_id)

    def logs_call(self) -> Call[LogPage] | None:
        """The request for the log lines not seen yet (workflows have no log of their own)."""
        if self.kind == "execution":
            return endpoints.execution_logs(self.job_id, self.next_line)
        if self.kind == "training":
            return endpoints.training_logs(self.job_id, self.next_line)
        return None

    def take(self, page: LogPage) -> list[str]:
        """The new lines of ``page``; the next request starts after them."""
        self.next_line = page.next_line
        return [line.text for line in page.lines]

    def next_delay(self) -> float:
        """Seconds to sleep before polling again. Raises WaitTimeoutError past the timeout."""
        return self.backoff.next_delay()


def outcome(kind: JobKind, job_id: str, record: Any) -> Any:
    """The record of a job that succeeded. Raises JobFailedError (FAILED, a CANCELLED workflow) or
    JobStoppedError (STOPPED) carrying the record and its error."""
    if record.status == "COMPLETED":
        return record
    error = getattr(record, "error", None)
    if error is not None:
        reason, error_type = f"{error.type}: {error.message}", error.type
    else:
        reason, error_type = getattr(record, "error_message", None) or "no error recorded", None
    detail = f"{kind} {job_id} ended {record.status}: {reason}"
    if record.status == "STOPPED":
        raise JobStoppedError(detail, record, error_type)
    raise JobFailedError(detail, record, error_type)
