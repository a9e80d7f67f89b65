"""JobContext and ExecutionContext: the RunnerContext of one job, backed by the stores the Lambdas use."""

from __future__ import annotations

import math
import threading
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from stratus.algorithms import StopRequested
from stratus.algorithms.runtime.kpis import KpiBook, make_kpi, state_kpis
from stratus.clock import utc_iso
from stratus.errors import ConflictError, IllegalTransitionError, NotFoundError
from stratus.models.executions import ExecutionRecord
from stratus.models.jobs import JobRecord, is_terminal
from stratus.models.webhooks import WebhookEvent
from stratus.services import webhooks
from stratus.services.files import get_ready, read_bytes, store_ready
from stratus.sessions import SessionStore

J = TypeVar("J", bound=JobRecord)

if TYPE_CHECKING:
    from collections.abc import Callable

    from stratus.algorithms.runtime import LogLevel
    from stratus.models.jobs import Kpi
    from stratus.settings import Settings
    from stratus.stores import Stores
    from stratus.stores.jobs import JobStore

# Progress writes and stop polls: at most ~4 per second each (issue 3), whatever the algorithm calls.
MIN_WRITE_INTERVAL_S = 0.25
# Log lines are batched: one read-modify-write per second at most, or sooner when this much is waiting.
LOG_FLUSH_INTERVAL_S = 1.0
LOG_FLUSH_BYTES = 64 * 1024


def _stored(kpis: dict[str, Kpi]) -> dict[str, Any]:
    """KPIs as the record holds them."""
    return {name: kpi.model_dump() for name, kpi in kpis.items()}


class ExecutionDefaults:
    """What a job context answers where only trainings differ (TrainingContext overrides it): state kept
    in memory, no checkpoints, no samples, steps as progress. Shared by the stack's contexts and the
    author kit's LocalContext."""

    _state: dict[str, Any]
    _kpis: KpiBook

    def set_progress(self, value: float) -> None:
        """Each context reports progress its own way."""
        raise NotImplementedError

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the execution's free-form state (kept in memory: executions do not publish it); its
        numeric entries are KPIs too."""
        self._state = dict(state)
        self._kpis.note_state(state_kpis(state)[0])

    def report_kpi(self, name: str, value: float, unit: str | None) -> None:
        """Record a KPI. Raises ValueError (not a valid KPI, or one beyond MAX_KPIS)."""
        self._kpis.report(make_kpi(name, value, unit))

    @property
    def kpis(self) -> dict[str, Kpi]:
        """The job's KPIs so far, by name."""
        return self._kpis.merged()

    def get_state(self) -> dict[str, Any]:
        """The execution's free-form state."""
        return self._state

    def save_checkpoint(
        self,
        assets: dict[str, bytes],  # noqa: ARG002 (the RunnerContext protocol's signature)
        properties: dict[str, Any],  # noqa: ARG002 (the RunnerContext protocol's signature)
    ) -> str:
        """Raises ConflictError: only trainings save checkpoints."""
        raise ConflictError("checkpoints can only be saved by a training, not by an execution")

    def read_samples(self, sample_ids: list[str]) -> list[dict[str, Any]]:  # noqa: ARG002 (protocol)
        """Raises ConflictError: only trainings read samples."""
        raise ConflictError("training datasets are only available to trainings, not to executions")

    def validation_sample_ids(self) -> list[str]:
        """None outside trainings."""
        return []

    def set_steps(self, current_step: int, total_steps: int) -> None:
        """Steps as progress (executions have no step counters)."""
        self.set_progress(current_step / max(total_steps, 1))


class JobContext(ExecutionDefaults, Generic[J]):
    """One job's files, assets, record, progress, log and stop flag, as its runner sees them
    (thread-safe). Subclasses add what only their kind has."""

    # How often progress is written and the stop flag polled, at most.
    write_interval_s = MIN_WRITE_INTERVAL_S

    def __init__(
        self,
        record: J,
        store: JobStore[J],
        stores: Stores,
        settings: Settings,
        package_dir: Path,
        device: str,
    ) -> None:
        self._record = record
        self._store = store
        self._job_id = str(getattr(record, store.id_field))
        self._stores = stores
        self._settings = settings
        self._package_dir = package_dir
        self._asset_paths = frozenset(record.plan.assets)
        self._device = device
        self._lock = threading.Lock()
        self._pending_lines: list[str] = []
        self._pending_bytes = 0
        self._last_flush = stores.clock()
        self._last_progress_write = -math.inf
        # The progress of the last webhook progress event queued (one per PROGRESS_STEP crossed).
        self._last_progress_event: float | None = None
        self._last_stop_poll = -math.inf
        self._is_stop_seen = False
        # The record as this context's last write returned it: a log flush writes against its version
        # instead of reading the record first (another writer's change makes the write retry).
        self._known: J | None = None
        self._state: dict[str, Any] = {}
        # KPIs: written at most every write_interval_s (riding along with progress when they can), and
        # with the final write; the lock keeps a snapshot's write from overtaking a later one's.
        self._kpis = KpiBook(record.kpis)
        self._kpi_lock = threading.RLock()
        self._kpis_written = self._kpis.generation
        self._last_kpi_write = -math.inf
        self._unusable_state_names: set[str] = set()
        self.output_ids: list[str] = []

    @property
    def job_id(self) -> str:
        """The job this context serves."""
        return self._job_id

    @property
    def package_dir(self) -> Path:
        """Where the job's package is staged."""
        return self._package_dir

    @property
    def device(self) -> str:
        """The torch device the job runs on."""
        return self._device

    def read_data(self, file_id: str) -> bytes:
        """A READY file of the job's tenant. Raises NotFoundError, NotReadyError."""
        return read_bytes(get_ready(file_id, self._record.tenant, self._stores), self._stores)

    def write_data(self, data: bytes) -> str:
        """Store one output as a new READY file; returns its id."""
        record = store_ready(data, self._record.tenant, self._stores, self._settings)
        with self._lock:
            self.output_ids.append(record.file_id)
        return record.file_id

    def scratch_dir(self) -> Path:
        """A private directory beside the staged package, removed with it when the job ends."""
        path = self._package_dir.parent / f"{self._package_dir.name}-scratch"
        path.mkdir(exist_ok=True)
        return path

    def read_asset(self, path: str) -> bytes:
        """An asset of the staged package by its package path. Raises NotFoundError."""
        return self.asset_path(path).read_bytes()

    def asset_path(self, path: str) -> Path:
        """Where an asset of the plan is staged, by its package path. Raises NotFoundError."""
        normalized = PurePosixPath(*[part for part in PurePosixPath(path).parts if part not in ("", ".")])
        if str(normalized) not in self._asset_paths:
            raise NotFoundError(f"asset {path!r} not found in the algorithm package")
        return self._package_dir / normalized

    def _running_values(self) -> dict[str, Any]:
        """What the RUNNING write records besides the status (the device, under the kind's name)."""
        return {}

    def mark_running(self) -> None:
        """STARTED → RUNNING on the resolved device. Raises StopRequested when the record already ended
        or a stop was requested (the write's answer says so: no separate poll)."""
        try:
            record = self._store.mark_running(self._job_id, self._running_values())
        except IllegalTransitionError:
            if is_terminal(self._store.get(self._job_id).status):
                raise StopRequested("the job ended before the algorithm started") from None
            raise
        self._known = record
        self._last_stop_poll = self._stores.clock()
        if record.stop_requested_at is not None:
            self._is_stop_seen = True
            raise StopRequested("a stop was requested for this job")

    def set_progress(self, progress: float) -> None:
        """Write progress (and KPIs not written yet), at most every ``write_interval_s`` except the final
        1.0; notes stop flags."""
        now = self._stores.clock()
        with self._lock:
            if progress < 1.0 and now - self._last_progress_write < self.write_interval_s:
                return
            self._last_progress_write = now
        scaled = self._scaled(progress)
        record = self._write_with_kpis(
            self._progress_values(), lambda values: self._store.set_progress(self._job_id, scaled, values)
        )
        if record is None:
            return
        # The write returns the record, so it doubles as a stop poll.
        self._known = record
        self._last_stop_poll = now
        self._is_stop_seen = self._is_stop_seen or record.stop_requested_at is not None
        self._notify_progress(record)
        self._flush_if_due(now)

    def _notify_progress(self, record: J) -> None:
        """Queue a progress webhook when the job's progress crossed another step (completion has its own
        event). Only this trusted process queues: the algorithm's sandbox never sees the queue."""
        if record.progress >= 1.0 or not webhooks.is_progress_due(self._last_progress_event, record.progress):
            return
        self._last_progress_event = record.progress
        webhooks.notify_job(self._store.job_kind, record, WebhookEvent.PROGRESS, self._stores)

    def _scaled(self, progress: float) -> float:
        """The record's progress for the runner's (a chain's round is part of the whole)."""
        return progress

    def _progress_values(self) -> dict[str, Any]:
        """What a progress write records besides progress."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the job's free-form state; its numeric entries are KPIs too."""
        self._note_state(state)
        self._write_kpis_if_due(self._stores.clock())

    def _note_state(self, state: dict[str, Any]) -> None:
        """Keep the state and its KPIs (a name or value no KPI can have is left out, with a warning in the
        log, once per name)."""
        kpis, unusable = state_kpis(state)
        with self._kpi_lock:
            self._state = dict(state)
            self._kpis.note_state(kpis)
            new = {name: why for name, why in unusable.items() if name not in self._unusable_state_names}
            self._unusable_state_names.update(new)
        for name, why in new.items():
            self.log("WARNING", f"set_state entry {name!r} is not reported as a KPI: {why}")

    def report_kpi(self, name: str, value: float, unit: str | None) -> None:
        """Record a KPI; it reaches the record within ``write_interval_s`` or with the job's end.
        Raises ValueError (not a valid KPI, or one beyond MAX_KPIS)."""
        kpi = make_kpi(name, value, unit)
        with self._kpi_lock:
            self._kpis.report(kpi)
        self._write_kpis_if_due(self._stores.clock())

    def _write_kpis_if_due(self, now: float) -> None:
        if now - self._last_kpi_write >= self.write_interval_s:
            self.write_kpis()

    def write_kpis(self) -> None:
        """Write the KPIs to the record now, if any changed since the last write (while the job is live:
        a record that ended keeps what it had)."""
        with self._kpi_lock:
            if self._kpis.generation == self._kpis_written:
                return
            record = self._write_with_kpis({}, lambda values: self._store.update_active(self._job_id, values))
            if record is not None:
                self._known = record

    def _write_with_kpis(self, values: dict[str, Any], write: Callable[[dict[str, Any]], J]) -> J | None:
        """``write`` ``values``, with the KPIs when they changed since they were last written; None when
        the record was marked final elsewhere (stopped through the API, failed by the state machine): the
        job must stop."""
        with self._kpi_lock:
            generation = self._kpis.generation
            if generation != self._kpis_written:
                values = {**values, "kpis": _stored(self._kpis.merged())}
            try:
                record = write(values)
            except IllegalTransitionError:
                self._is_stop_seen = True
                return None
            if "kpis" in values:
                self._kpis_written, self._last_kpi_write = generation, self._stores.clock()
            return record

    def log(self, level: LogLevel, message: str) -> None:
        """Queue a log line; lines reach the record in batches (and on `flush`)."""
        now = self._stores.clock()
        stamp = utc_iso(now, "milliseconds")
        line = f"{stamp} {level} {message}"
        with self._lock:
            self._pending_lines.append(line)
            self._pending_bytes += len(line.encode())
        self._flush_if_due(now)

    def flush(self) -> None:
        """Write every queued log line, and the KPIs if they changed, to the record now."""
        lines = self._take_lines()
        if lines:
            self._known = self._store.append_log(self._job_id, lines, self._known)
        self.write_kpis()

    def _take_lines(self) -> list[str]:
        with self._lock:
            lines, self._pending_lines, self._pending_bytes = self._pending_lines, [], 0
            self._last_flush = self._stores.clock()
        return lines

    def raise_if_stop_requested(self) -> None:
        """Raise StopRequested when a stop was requested; polls the record at most every
        ``write_interval_s``."""
        now = self._stores.clock()
        if not self._is_stop_seen and now - self._last_stop_poll >= self.write_interval_s:
            self._last_stop_poll = now
            self._is_stop_seen = self._store.is_stop_requested(self._job_id)
        if self._is_stop_seen:
            raise StopRequested("a stop was requested for this job")

    def session_get(self, key: str) -> Any:
        """An item of the job's session. Raises KeyError when missing or expired."""
        return self._session().get(key)

    def session_put(self, key: str, value: Any) -> None:
        """Store an item in the job's session. Raises PayloadTooLargeError over the item cap."""
        self._session().put(key, value)

    def session_body(self, key: str) -> bytes:
        """An item of the job's session as stored (pickled): never unpickled here. Raises KeyError."""
        return self._session().get_body(key)

    def store_session_body(self, key: str, body: bytes) -> None:
        """Store an item the algorithm pickled. Raises PayloadTooLargeError over the item cap."""
        self._session().put_body(key, body)

    def session_delete(self, key: str) -> None:
        """Remove an item from the job's session. Raises KeyError."""
        self._session().delete(key)

    def _session(self) -> SessionStore:
        token = getattr(self._record, "session_token", None)
        if token is None:
            raise ConflictError("this job has no session_token, so it has no session (only executions do)")
        return SessionStore(self._stores.objects, self._stores.clock, self._record.tenant, str(token))

    def _flush_if_due(self, now: float) -> None:
        with self._lock:
            is_due = self._pending_lines and (
                self._pending_bytes >= LOG_FLUSH_BYTES or now - self._last_flush >= LOG_FLUSH_INTERVAL_S
            )
        if is_due:
            self.flush()
        else:
            self._write_kpis_if_due(now)


class ExecutionContext(JobContext["ExecutionRecord"]):
    """One execution's context: outputs, the session, and COMPLETED with the output ids."""

    def __init__(
        self, execution: ExecutionRecord, stores: Stores, settings: Settings, package_dir: Path, device: str
    ) -> None:
        super().__init__(execution, stores.executions, stores, settings, package_dir, device)
        self._execution = execution

    @property
    def execution_id(self) -> str:
        """The execution this context serves."""
        return self._execution.execution_id

    def _running_values(self) -> dict[str, Any]:
        return {"resolved_execution_device": self._device}

    def finish(self, output_ids: list[str]) -> ExecutionRecord:
        """RUNNING → COMPLETED with the outputs, the queued log lines written in the same write.

        Raises IllegalTransitionError (the record ended or moved on meanwhile).
        """
        lines = self._take_lines()
        try:
            # The KPIs in the same write: whoever sees COMPLETED sees them.
            kpis = _stored(self.kpis)
            return self._stores.executions.finish(self._job_id, output_ids, lines, self._known, kpis)
        except IllegalTransitionError:
            if lines:  # the record ended otherwise (a stop won): its log still gets the lines
                self._stores.executions.append_log(self._job_id, lines)
            raise
