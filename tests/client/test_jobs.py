"""Waiting for jobs: poll intervals, timeouts and how an ended job is reported (stratus_client.jobs)."""

from __future__ import annotations

import time

import pytest
from stratus_client.errors import JobFailedError, JobStoppedError, WaitTimeoutError
from stratus_client.jobs import POLL_FIRST_S, POLL_MAX_S, Backoff, JobWatch, outcome
from stratus_client.models import Execution, LogLine, LogPage, Workflow


def _execution(status: str, error: dict | None = None) -> Execution:
    return Execution.model_validate(
        {"execution_id": "e1", "algorithm_id": "a1", "status": status, "error": error}
    )


def test_backoff_grows_to_its_cap() -> None:
    backoff = Backoff("job")

    delays = [backoff.next_delay() for _ in range(20)]

    assert delays[0] == POLL_FIRST_S
    assert delays == sorted(delays)
    assert delays[-1] == POLL_MAX_S


def test_backoff_raises_once_the_timeout_has_passed() -> None:
    backoff = Backoff("execution e1", timeout_s=1.0, started=time.monotonic() - 5)

    with pytest.raises(WaitTimeoutError, match="execution e1 did not end within 1 s"):
        backoff.next_delay()


def test_job_watch_follows_the_log_from_the_next_line() -> None:
    watch = JobWatch("execution", "e1")

    texts = watch.take(LogPage(lines=[LogLine(line=0, text="a"), LogLine(line=1, text="b")], next_line=2))
    call = watch.logs_call()

    assert texts == ["a", "b"]
    assert call is not None and call.params == {"from_line": 2, "limit": 1000}


def test_outcome_returns_a_completed_record() -> None:
    record = _execution("COMPLETED")

    assert outcome("execution", "e1", record) is record


def test_outcome_raises_job_failed_with_the_jobs_error() -> None:
    record = _execution("FAILED", {"type": "KeyError", "message": "'data'"})

    with pytest.raises(JobFailedError) as raised:
        outcome("execution", "e1", record)

    assert raised.value.error_type == "KeyError"
    assert raised.value.detail == "execution e1 ended FAILED: KeyError: 'data'"
    assert raised.value.record is record


def test_outcome_raises_job_stopped_for_a_stopped_job() -> None:
    with pytest.raises(JobStoppedError):
        outcome("execution", "e1", _execution("STOPPED"))


def test_outcome_reports_a_cancelled_workflows_error_message() -> None:
    workflow = Workflow(id="w1", name="w", status="CANCELLED", error_message="cancelled by the user")

    with pytest.raises(JobFailedError, match="workflow w1 ended CANCELLED: cancelled by the user"):
        outcome("workflow", "w1", workflow)
