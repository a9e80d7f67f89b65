"""What a running algorithm reaches the outside world through: the worker implements RunnerContext."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from pathlib import Path

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LOG_LEVELS: tuple[LogLevel, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")


class StopRequested(Exception):
    """A stop was requested (Compox's TaskStoppedException): unwinds the runner so the task ends STOPPED."""


class RunnerContext(Protocol):
    """One task's storage, records and controls, as seen by a runner; the worker backs it with S3/DynamoDB."""

    def read_data(self, file_id: str) -> bytes | Path:
        """An input file's HDF5 content, as bytes or a local path. Raises NotFoundError."""
        ...

    def write_data(self, data: bytes) -> str:
        """Store one output HDF5 file and return its new file id."""
        ...

    def read_asset(self, path: str) -> bytes:
        """An asset of the algorithm (or of the checkpoint in use) by package path. Raises NotFoundError."""
        ...

    def mark_running(self) -> None:
        """The task has entered its first hook (Compox sets RUNNING here)."""
        ...

    def set_progress(self, progress: float) -> None:
        """Record progress in [0, 1]; the context decides how often it is written."""
        ...

    def log(self, level: LogLevel, message: str) -> None:
        """Append a line to the task's log."""
        ...

    def raise_if_stop_requested(self) -> None:
        """Raise StopRequested when a stop was requested for this task."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the task's free-form state (metrics, loss, …)."""
        ...

    def get_state(self) -> dict[str, Any]:
        """The task's current state."""
        ...

    def report_kpi(self, name: str, value: float, unit: str | None) -> None:
        """Record a KPI (BaseRunner checked it); the context decides how often it is written."""
        ...

    def save_checkpoint(self, assets: dict[str, bytes], properties: dict[str, Any]) -> str:
        """Store a training checkpoint (asset path → bytes) and return its id. Raises ConflictError
        outside training."""
        ...

    def read_samples(self, sample_ids: list[str]) -> list[dict[str, Any]]:
        """The samples' manifests in the order asked ({"sample_id", "files": list[dict[str, list[str]]],
        "tags", "time_created"}). Raises NotFoundError (unknown sample), ConflictError (not a training)."""
        ...

    def validation_sample_ids(self) -> list[str]:
        """Sample ids this training may evaluate on (empty when none were given, and outside trainings)."""
        ...

    def set_steps(self, current_step: int, total_steps: int) -> None:
        """Fine-grained training progress: progress becomes current/total; the context decides how often
        it writes."""
        ...

    def scratch_dir(self) -> Path:
        """A private local directory for this task, removed when the task ends (Compox's TempStore root)."""
        ...

    def session_get(self, key: str) -> Any:
        """An item of the task's session. Raises KeyError."""
        ...

    def session_put(self, key: str, value: Any) -> None:
        """Store an item in the task's session."""
        ...

    def session_delete(self, key: str) -> None:
        """Remove an item from the task's session. Raises KeyError."""
        ...
