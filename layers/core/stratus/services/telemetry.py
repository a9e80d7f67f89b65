"""The CloudWatch metrics jobs emit (Powertools EMF, flushed by the steps handler): started, completed,
failed and duration, each with the job's kind as dimension."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from stratus.models.jobs import JobStatus
from stratus.observability import metrics

if TYPE_CHECKING:
    from stratus.models.jobs import JobKind, JobRecord

KIND_DIMENSION = "kind"
STARTED, COMPLETED, FAILED, DURATION = "started", "completed", "failed", "duration"


def count_started(kind: JobKind) -> None:
    """A job of ``kind`` went PENDING → STARTED."""
    if not _is_publishing():
        return
    metrics.add_dimension(name=KIND_DIMENSION, value=kind)
    metrics.add_metric(name=STARTED, unit=MetricUnit.Count, value=1)


def count_ended(kind: JobKind, record: JobRecord) -> None:
    """A job of ``kind`` ended: completed or failed (a stop is neither), with its run's duration.

    Called by the state machines' last task; a retried task (rare: Lambda's own retries) counts twice.
    """
    name = {JobStatus.COMPLETED: COMPLETED, JobStatus.FAILED: FAILED}.get(record.status)
    if name is None or not _is_publishing():
        return
    metrics.add_dimension(name=KIND_DIMENSION, value=kind)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if record.time_started is not None and record.time_completed is not None:
        duration = max(record.time_completed - record.time_started, 0.0)
        metrics.add_metric(name=DURATION, unit=MetricUnit.Seconds, value=duration)


def _is_publishing() -> bool:
    # Every function has POWERTOOLS_METRICS_NAMESPACE (the template's Globals). Without it (a script, a
    # unit test calling a service) nothing flushes the metrics and a handler's flush would refuse them.
    return metrics.namespace is not None
