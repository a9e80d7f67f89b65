"""ExecutionStore: execution records (a job kind) and what only executions have: device and outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratus.models.executions import ExecutionRecord
from stratus.stores.jobs import JobStore

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from stratus.models.jobs import JobError


class ExecutionStore(JobStore[ExecutionRecord]):
    """Execution records: Compox's execution-store, on the shared job model."""

    kind = "execution"
    job_kind = "execution"
    id_field = "execution_id"
    model = ExecutionRecord

    def finish(
        self,
        execution_id: str,
        output_ids: list[str],
        lines: Iterable[str] = (),
        known: ExecutionRecord | None = None,
        kpis: Mapping[str, Any] | None = None,
    ) -> ExecutionRecord:
        """RUNNING → COMPLETED with the output file ids (and the final ``kpis``, stored shape), and
        ``lines`` appended to the log in the same write (``known`` as in append_log). Raises
        NotFoundError, IllegalTransitionError."""
        values: dict[str, Any] = {"output_dataset_ids": output_ids}
        if kpis is not None:
            values["kpis"] = dict(kpis)
        return self.complete(execution_id, values, lines, known)

    def fail(
        self,
        job_id: str,
        error: JobError,
        traceback: str = "",
        values: Mapping[str, Any] | None = None,
    ) -> ExecutionRecord:
        """FAILED as any job, with no outputs (as Compox's mark_as_failed). Raises NotFoundError,
        IllegalTransitionError (already final)."""
        return super().fail(job_id, error, traceback, {"output_dataset_ids": [], **(values or {})})
