"""ExecutionStore: execution records, their conditional status changes, progress, bounded log and stops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr

from stratus.errors import IllegalTransitionError, NotFoundError
from stratus.models.executions import (
    ACTIVE_STATUSES,
    ExecutionError,
    ExecutionRecord,
    ExecutionStatus,
    sources_of,
)
from stratus.stores.base import Item, RecordStore

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

KIND = "execution"
# DynamoDB items are at most 400 KB (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
# ServiceQuotas.html). The log stays at half of that: moto (5.2.5, LimitedSizeDict) counts a replaced value
# on top of its replacement, and every write is billed on the whole item's size, progress writes included.
MAX_LOG_BYTES = 192 * 1024
TRUNCATION_MARKER = "[earlier log lines dropped to stay under the record size limit]\n"
# Two log writers racing (the worker and a failure-marking step) retry their read-modify-write.
MAX_LOG_ATTEMPTS = 5


def execution_key(execution_id: str) -> Item:
    """Primary key of an execution record."""
    return {"pk": f"{KIND}#{execution_id}", "sk": KIND}


def listing_partition(tenant: str) -> str:
    """GSI partition holding one tenant's executions."""
    return f"{KIND}#{tenant}"


def listing_sort_key(created_at: float, execution_id: str) -> str:
    """GSI sort key: zero-padded creation time in ms, so string order is time order."""
    return f"{int(created_at * 1000):015d}#{execution_id}"


def bounded_log(log: str, lines: Iterable[str], limit: int = MAX_LOG_BYTES) -> str:
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


class ExecutionStore(RecordStore):
    """Execution records: every status change is one conditional write; terminal statuses are final."""

    def create(self, record: ExecutionRecord) -> None:
        """Store a new execution record. Raises AlreadyExistsError."""
        item = {
            **execution_key(record.execution_id),
            "gsi1pk": listing_partition(record.tenant),
            "gsi1sk": listing_sort_key(record.created_at, record.execution_id),
            **record.model_dump(mode="json"),
        }
        self._put_new(item, "execution")

    def get(self, execution_id: str, tenant: str | None = None) -> ExecutionRecord:
        """Load a live execution (of ``tenant`` when given). Raises NotFoundError."""
        record = ExecutionRecord.model_validate(self._get_live(execution_key(execution_id), "execution"))
        if tenant is not None and record.tenant != tenant:
            # Another tenant's execution is answered exactly like a missing one.
            raise NotFoundError("execution not found")
        return record

    def mark_started(self, execution_id: str) -> ExecutionRecord:
        """PENDING → STARTED. Raises NotFoundError, IllegalTransitionError."""
        return self._transition(execution_id, ExecutionStatus.STARTED, {"time_started": self._clock()})

    def mark_running(self, execution_id: str, device: str) -> ExecutionRecord:
        """STARTED → RUNNING on the resolved ``device``. Raises NotFoundError, IllegalTransitionError."""
        return self._transition(execution_id, ExecutionStatus.RUNNING, {"resolved_execution_device": device})

    def set_progress(self, execution_id: str, progress: float) -> ExecutionRecord:
        """Record progress in [0, 1] while STARTED or RUNNING.

        Raises NotFoundError, IllegalTransitionError.
        """
        item = self._update_guarded(
            execution_key(execution_id),
            "execution",
            {"progress": min(max(progress, 0.0), 1.0)},
            allowed_statuses=[s.value for s in ACTIVE_STATUSES],
        )
        return ExecutionRecord.model_validate(item)

    def append_log(
        self, execution_id: str, lines: Iterable[str], known: ExecutionRecord | None = None
    ) -> ExecutionRecord:
        """Append lines to the log, dropping the oldest beyond the size bound. With ``known`` (the record
        as the caller last saw it) the first attempt skips the read. Raises NotFoundError,
        ConflictError (concurrent appends kept winning)."""
        return self._write_with_log(execution_id, list(lines), {}, allowed=None, known=known)

    def finish(
        self,
        execution_id: str,
        output_ids: list[str],
        lines: Iterable[str] = (),
        known: ExecutionRecord | None = None,
    ) -> ExecutionRecord:
        """RUNNING → COMPLETED with the output file ids, and ``lines`` appended to the log in the same
        write (``known`` as in append_log). Raises NotFoundError, IllegalTransitionError."""
        values = {"output_dataset_ids": output_ids, "progress": 1.0, "time_completed": self._clock()}
        lines = list(lines)
        if not lines:
            return self._transition(execution_id, ExecutionStatus.COMPLETED, values)
        values = {"status": ExecutionStatus.COMPLETED.value, **values}
        return self._write_with_log(
            execution_id, lines, values, allowed=sources_of(ExecutionStatus.COMPLETED), known=known
        )

    def fail(self, execution_id: str, error: ExecutionError, traceback: str = "") -> ExecutionRecord:
        """Any live status → FAILED with ``error``; the traceback (or the message) goes into the log.

        Raises NotFoundError, IllegalTransitionError (already final).
        """
        values = {
            "status": ExecutionStatus.FAILED.value,
            "error": error.model_dump(),
            # As Compox's mark_as_failed: progress full, no outputs.
            "progress": 1.0,
            "output_dataset_ids": [],
            "time_completed": self._clock(),
        }
        lines = [traceback or f"{error.type}: {error.message}"]
        return self._write_with_log(execution_id, lines, values, allowed=sources_of(ExecutionStatus.FAILED))

    def stop(self, execution_id: str, message: str = "Execution stopped.") -> ExecutionRecord:
        """Any live status → STOPPED, noting ``message`` in the log. Raises NotFoundError,
        IllegalTransitionError (already final)."""
        values = {"status": ExecutionStatus.STOPPED.value, "time_completed": self._clock()}
        return self._write_with_log(
            execution_id, [message], values, allowed=sources_of(ExecutionStatus.STOPPED)
        )

    def request_stop(self, execution_id: str, tenant: str | None = None) -> ExecutionRecord:
        """Flag a live execution for a cooperative stop; the worker polls the flag.

        Raises NotFoundError, IllegalTransitionError (already final).
        """
        condition = None
        if tenant is not None:
            self.get(execution_id, tenant)  # another tenant's execution reads as missing, not as a conflict
            condition = Attr("tenant").eq(tenant)
        item = self._update_guarded(
            execution_key(execution_id),
            "execution",
            {"stop_requested_at": self._clock()},
            allowed_statuses=[s.value for s in sources_of(ExecutionStatus.STOPPED)],
            condition=condition,
        )
        return ExecutionRecord.model_validate(item)

    def is_stop_requested(self, execution_id: str) -> bool:
        """Whether the execution should stop: a stop was requested or it is STOPPED. Raises NotFoundError."""
        record = self.get(execution_id)
        return record.stop_requested_at is not None or record.status is ExecutionStatus.STOPPED

    def list_recent(
        self,
        tenant: str,
        limit: int,
        cursor: str | None,
        status: ExecutionStatus | None = None,
        algorithm_id: str | None = None,
    ) -> tuple[list[ExecutionRecord], str | None]:
        """One page of ``tenant``'s live executions, newest first. Raises InvalidInputError (bad cursor)."""
        items, next_cursor = self._query_recent(
            listing_partition(tenant),
            limit,
            cursor,
            status.value if status else None,
            match={"algorithm_id": algorithm_id},
        )
        return [ExecutionRecord.model_validate(i) for i in items], next_cursor

    def _transition(
        self, execution_id: str, target: ExecutionStatus, values: Mapping[str, Any]
    ) -> ExecutionRecord:
        item = self._update_guarded(
            execution_key(execution_id),
            "execution",
            {"status": target.value, **values},
            allowed_statuses=[s.value for s in sources_of(target)],
        )
        return ExecutionRecord.model_validate(item)

    def _write_with_log(
        self,
        execution_id: str,
        lines: list[str],
        values: Mapping[str, Any],
        allowed: frozenset[ExecutionStatus] | None,
        known: ExecutionRecord | None = None,
    ) -> ExecutionRecord:
        """One conditional write of ``values`` plus the log with ``lines`` appended.

        DynamoDB cannot append to a string in an update, so this reads the log and writes it back,
        guarded by `log_version`: a concurrent append makes the guard fail and the write is retried.
        """
        for _ in range(MAX_LOG_ATTEMPTS):
            current, known = known or self.get(execution_id), None
            if allowed is not None and current.status not in allowed:
                raise IllegalTransitionError(
                    f"execution is {current.status.value}; that change is not allowed"
                )
            update = {
                **values,
                "log": bounded_log(current.log, lines),
                "log_version": current.log_version + 1,
            }
            unchanged = Attr("log_version").eq(current.log_version)
            try:
                item = self._update_guarded(
                    execution_key(execution_id),
                    "execution",
                    update,
                    allowed_statuses=[s.value for s in allowed] if allowed is not None else None,
                    condition=unchanged,
                )
            except IllegalTransitionError:
                continue  # the status or the log moved on; the next read decides which
            return ExecutionRecord.model_validate(item)
        raise IllegalTransitionError(f"execution {execution_id} kept changing while its log was written")
