"""JobStore: what execution and training records share: guarded status changes, progress, stop, log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.conditions import Attr, ConditionBase

from stratus.errors import IllegalTransitionError
from stratus.models.jobs import ACTIVE_STATUSES, LIVE_STATUSES, JobError, JobRecord, JobStatus, sources_of
from stratus.stores.base import TenantRecordStore
from stratus.stores.logs import LogStore

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from mypy_boto3_dynamodb.service_resource import Table

    from stratus.clock import Clock
    from stratus.models.jobs import JobKind, LogPage

J = TypeVar("J", bound=JobRecord)

# The record keeps the log's last lines for Compox clients; the whole log is LogStore items. Every
# write of a DynamoDB item is billed on its whole size, so the tail stays small (progress writes too).
LOG_TAIL_BYTES = 16 * 1024
TRUNCATION_MARKER = "[earlier lines: GET the job's /logs]\n"
# Two log writers racing (the worker and a failure-marking step) retry their read-modify-write.
MAX_LOG_ATTEMPTS = 5


def bounded_log(log: str, lines: Iterable[str], limit: int = LOG_TAIL_BYTES) -> str:
    """``log`` with ``lines`` appended, dropping the oldest whole lines to stay within ``limit`` bytes."""
    marker = TRUNCATION_MARKER if log.startswith(TRUNCATION_MARKER) else ""
    body = log.removeprefix(marker) + "".join(line if line.endswith("\n") else f"{line}\n" for line in lines)
    data = body.encode()
    if len(marker) + len(data) <= limit:
        return marker + body
    tail = data[len(data) - (limit - len(TRUNCATION_MARKER)) :]
    # Cut after a newline so no line is kept in part, unless one line alone is over the limit.
    newline = tail.find(b"\n")
    kept = tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail
    return TRUNCATION_MARKER + kept.decode(errors="ignore")


class JobStore(TenantRecordStore[J]):
    """Job records: every status change is one conditional write; terminal statuses are final."""

    job_kind: JobKind

    def __init__(self, table: Table, clock: Clock, cursor_secret: bytes | None = None) -> None:
        super().__init__(table, clock, cursor_secret)
        self._logs = LogStore(table, clock)

    def mark_started(self, job_id: str) -> J:
        """PENDING → STARTED. Raises NotFoundError, IllegalTransitionError."""
        return self._transition(job_id, JobStatus.STARTED, {"time_started": self._clock()})

    def mark_running(self, job_id: str, values: Mapping[str, Any] | None = None) -> J:
        """STARTED → RUNNING (with ``values``). Raises NotFoundError, IllegalTransitionError."""
        return self._transition(job_id, JobStatus.RUNNING, {"time_running": self._clock(), **(values or {})})

    def set_progress(self, job_id: str, progress: float, values: Mapping[str, Any] | None = None) -> J:
        """Record progress in [0, 1] (and ``values``) while STARTED or RUNNING.

        Raises NotFoundError, IllegalTransitionError.
        """
        update = {"progress": min(max(progress, 0.0), 1.0), **(values or {})}
        return self._update(job_id, update, allowed_statuses=[s.value for s in ACTIVE_STATUSES])

    def update_active(
        self, job_id: str, values: Mapping[str, Any], condition: ConditionBase | None = None
    ) -> J:
        """Set ``values`` while the job is live (and ``condition`` holds). Raises NotFoundError,
        IllegalTransitionError (final, or the condition failed)."""
        return self._update(
            job_id, values, allowed_statuses=[s.value for s in LIVE_STATUSES], condition=condition
        )

    def set_priority(self, job_id: str, tenant: str, priority: int) -> J:
        """Set a PENDING job's priority. Raises NotFoundError (also another tenant's job),
        IllegalTransitionError (no longer PENDING)."""
        self.get(job_id, tenant)  # another tenant's job reads as missing, not as a conflict
        return self._update(
            job_id,
            {"priority": priority},
            allowed_statuses=[JobStatus.PENDING.value],
            condition=Attr("tenant").eq(tenant),
        )

    def append_log(self, job_id: str, lines: Iterable[str], known: J | None = None) -> J:
        """Append lines to the log. With ``known`` (the record as the caller last saw it) the first
        attempt skips the read. Raises NotFoundError, IllegalTransitionError (appends kept racing)."""
        return self._write_with_log(job_id, list(lines), {}, allowed=None, known=known)

    def complete(
        self, job_id: str, values: Mapping[str, Any], lines: Iterable[str] = (), known: J | None = None
    ) -> J:
        """RUNNING → COMPLETED with ``values``, and ``lines`` appended to the log in the same write.

        Raises NotFoundError, IllegalTransitionError.
        """
        done = {
            "status": JobStatus.COMPLETED.value,
            "progress": 1.0,
            "time_completed": self._clock(),
            **values,
        }
        return self._write_with_log(
            job_id, list(lines), done, allowed=sources_of(JobStatus.COMPLETED), known=known
        )

    def fail(
        self, job_id: str, error: JobError, traceback: str = "", values: Mapping[str, Any] | None = None
    ) -> J:
        """Any live status → FAILED with ``error``; the traceback (or the message) goes into the log.
        The progress stays where the job got to (Compox's mark_as_failed sets it full, which reads as
        done to anyone watching a progress bar).

        Raises NotFoundError, IllegalTransitionError (already final).
        """
        failed = {
            "status": JobStatus.FAILED.value,
            "error": error.model_dump(),
            "time_completed": self._clock(),
            **(values or {}),
        }
        lines = [traceback or f"{error.type}: {error.message}"]
        return self._write_with_log(job_id, lines, failed, allowed=sources_of(JobStatus.FAILED))

    def stop(self, job_id: str, message: str) -> J:
        """Any live status → STOPPED, noting ``message`` in the log. Raises NotFoundError,
        IllegalTransitionError (already final)."""
        values = {"status": JobStatus.STOPPED.value, "time_completed": self._clock()}
        return self._write_with_log(job_id, [message], values, allowed=sources_of(JobStatus.STOPPED))

    def request_stop(self, job_id: str, tenant: str | None = None) -> J:
        """Flag a live job for a cooperative stop; the worker polls the flag.

        Raises NotFoundError, IllegalTransitionError (already final).
        """
        condition = None
        if tenant is not None:
            self.get(job_id, tenant)  # another tenant's job reads as missing, not as a conflict
            condition = Attr("tenant").eq(tenant)
        return self._update(
            job_id,
            {"stop_requested_at": self._clock()},
            allowed_statuses=[s.value for s in sources_of(JobStatus.STOPPED)],
            condition=condition,
        )

    def is_stop_requested(self, job_id: str) -> bool:
        """Whether the job should stop: a stop was requested or it is STOPPED. Raises NotFoundError."""
        record = self.get(job_id)
        return record.stop_requested_at is not None or record.status is JobStatus.STOPPED

    def read_log(self, record: J, from_line: int, limit: int) -> LogPage:
        """Lines of ``record``'s log from ``from_line`` on."""
        job_id = str(getattr(record, self.id_field))
        return self._logs.read(self.job_kind, job_id, from_line, limit, record.log_lines)

    def _transition(self, job_id: str, target: JobStatus, values: Mapping[str, Any]) -> J:
        return self._update(
            job_id, {"status": target.value, **values}, allowed_statuses=[s.value for s in sources_of(target)]
        )

    def _write_with_log(
        self,
        job_id: str,
        lines: list[str],
        values: Mapping[str, Any],
        allowed: frozenset[JobStatus] | None,
        known: J | None = None,
    ) -> J:
        """One conditional write of ``values`` plus the log tail with ``lines`` appended; then the lines
        as a log item, numbered by the record's count.

        DynamoDB cannot append to a string in an update, so this reads the tail and writes it back,
        guarded by `log_version`: a concurrent append makes the guard fail and the write is retried.
        """
        for _ in range(MAX_LOG_ATTEMPTS):
            current, known = known or self.get(job_id), None
            if allowed is not None and current.status not in allowed:
                raise IllegalTransitionError(
                    f"{self.kind} is {current.status.value}; that change is not allowed"
                )
            update = dict(values)
            if lines:
                update["log"] = bounded_log(current.log, lines)
                update["log_lines"] = current.log_lines + len(lines)
            update["log_version"] = current.log_version + 1
            try:
                record = self._update(
                    job_id,
                    update,
                    allowed_statuses=[s.value for s in allowed] if allowed is not None else None,
                    condition=Attr("log_version").eq(current.log_version),
                )
            except IllegalTransitionError:
                continue  # the status or the log moved on; the next read decides which
            if lines:
                self._logs.put_chunk(self.job_kind, job_id, current.log_lines, lines, record.expires_at)
            return record
        raise IllegalTransitionError(f"{self.kind} {job_id} kept changing while its log was written")
