"""RunnerService: the worker's answers to its algorithm's calls, each checked and done through the job's
context (so through this job's record and this tenant's files only); data moves as job-folder files."""

from __future__ import annotations

import numbers
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from stratus.algorithms.runtime import LOG_LEVELS
from stratus.errors import InvalidInputError
from stratus.observability import logger

from gpu_worker.sandbox.folders import write_new

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from gpu_worker.context import JobContext
    from gpu_worker.sandbox.folders import JobFolder

# Inputs staged at once while the algorithm's process starts (and when it fetches in parallel).
STAGING_THREADS = 4


class MissingSessionItemError(Exception):
    """The session has no item under the key (the algorithm's side raises KeyError for it)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _argument(params: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """One parameter of a call, of ``kind``. Raises InvalidInputError (missing, or another type)."""
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, kind):  # JSON's true is no number
        raise InvalidInputError(f"the call's {name!r} must be a {getattr(kind, '__name__', kind)}")
    return value


def _strings(params: dict[str, Any], name: str) -> list[str]:
    values = _argument(params, name, list)
    if not all(isinstance(value, str) for value in values):
        raise InvalidInputError(f"the call's {name!r} must be a list of strings")
    return list(values)


class RunnerService:
    """Answers one job's algorithm: ``job`` is what `start` hands over; ``context`` the job's
    JobContext (ExecutionContext or TrainingContext)."""

    def __init__(self, context: JobContext[Any], folder: JobFolder, job: dict[str, Any]) -> None:
        self._context = context
        self._folder = folder
        self._job = job
        self._lock = threading.Lock()
        self._staged: dict[str, Future[Path]] = {}
        self._inbox_count = 0
        self._pool = ThreadPoolExecutor(STAGING_THREADS, thread_name_prefix="stage-input")
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "start": self._start,
            "read_data": lambda p: str(self._stage_input(_argument(p, "file_id", str)).result()),
            "write_data": lambda p: context.write_data(folder.take(_argument(p, "name", str))),
            "asset_path": lambda p: str(context.asset_path(_argument(p, "path", str))),
            "mark_running": lambda _: context.mark_running(),
            "set_progress": self._set_progress,
            "log": self._log,
            "raise_if_stop_requested": lambda _: context.raise_if_stop_requested(),
            "set_state": lambda p: context.set_state(dict(_argument(p, "state", dict))),
            "get_state": lambda _: context.get_state(),
            "report_kpi": self._report_kpi,
            "save_checkpoint": self._save_checkpoint,
            "read_samples": lambda p: context.read_samples(_strings(p, "sample_ids")),
            "validation_sample_ids": lambda _: context.validation_sample_ids(),
            "set_steps": lambda p: context.set_steps(
                _argument(p, "current_step", int), _argument(p, "total_steps", int)
            ),
            "session_get": self._session_get,
            "session_put": lambda p: context.store_session_body(
                _argument(p, "key", str), folder.take(_argument(p, "name", str))
            ),
            "session_delete": self._session_delete,
        }

    def prefetch(self, file_ids: list[str]) -> None:
        """Stage these inputs now, while the algorithm's process starts; a failure waits for its read."""
        for file_id in file_ids:
            self._stage_input(file_id)

    def handle(self, method: Any, params: Any) -> Any:
        """Do one call; returns its JSON-able result. Raises InvalidInputError (no such call, or bad
        parameters) and whatever the context raises."""
        handler = self._methods.get(method) if isinstance(method, str) else None
        if handler is None:
            raise InvalidInputError(f"the worker has no call {method!r}")
        return handler(params if isinstance(params, dict) else {})

    def close(self) -> None:
        """Stop staging: nothing is staged after the job."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        notes = params.get("notes")
        logger.info(
            "algorithm process confined", extra={"confinement": notes if isinstance(notes, list) else []}
        )
        return self._job

    def _stage_input(self, file_id: str) -> Future[Path]:
        with self._lock:
            staged = self._staged.get(file_id)
            if staged is None:
                index = len(self._staged)
                staged = self._staged[file_id] = self._pool.submit(self._write_input, file_id, index)
        return staged

    def _write_input(self, file_id: str, index: int) -> Path:
        # Named by position, not by id: the name holds nothing a caller chose.
        return write_new(self._folder.inputs / f"{index:06d}.h5", self._context.read_data(file_id))

    def _set_progress(self, params: dict[str, Any]) -> None:
        progress = _argument(params, "progress", numbers.Real)
        if not 0.0 <= float(progress) <= 1.0:
            raise InvalidInputError("progress must be between 0 and 1")
        self._context.set_progress(float(progress))

    def _report_kpi(self, params: dict[str, Any]) -> None:
        # JSON: the value arrives as a number (or not); the context's check says what is wrong with it.
        value: Any = params.get("value")
        try:
            self._context.report_kpi(_argument(params, "name", str), value, params.get("unit"))
        except ValueError as exc:  # the context checks the KPI again: the algorithm's side is not trusted
            raise InvalidInputError(str(exc)) from exc

    def _log(self, params: dict[str, Any]) -> None:
        level = _argument(params, "level", str)
        if level not in LOG_LEVELS:
            raise InvalidInputError(f"log level must be one of {', '.join(LOG_LEVELS)}")
        self._context.log(level, _argument(params, "message", str))

    def _save_checkpoint(self, params: dict[str, Any]) -> str:
        names = _argument(params, "assets", dict)
        properties = _argument(params, "properties", dict)
        assets = {str(path): self._folder.take(_argument(names, path, str)) for path in names}
        return self._context.save_checkpoint(assets, properties)

    def _session_get(self, params: dict[str, Any]) -> str:
        key = _argument(params, "key", str)
        try:
            body = self._context.session_body(key)
        except KeyError:
            raise MissingSessionItemError(key) from None
        with self._lock:
            self._inbox_count += 1
            name = f"{self._inbox_count:06d}.pickle"
        return str(write_new(self._folder.inbox / name, body))

    def _session_delete(self, params: dict[str, Any]) -> None:
        key = _argument(params, "key", str)
        try:
            self._context.session_delete(key)
        except KeyError:
            raise MissingSessionItemError(key) from None
