"""LocalContext: a job's context over local files, for `try` (the worker's side of the sandbox, where
the stack's JobContext reads S3 and DynamoDB) and for authors' own tests (a Runner's RunnerContext)."""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from stratus.algorithms.runtime.kpis import KpiBook
from stratus.clock import utc_iso
from stratus.errors import NotFoundError

from gpu_worker.context import ExecutionDefaults

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from stratus.algorithms.runtime import LogLevel

Event = dict[str, Any]


class LocalContext(ExecutionDefaults):
    """Inputs are local HDF5 files (their ids: their paths, as given), outputs are written to
    ``out_dir`` as `output_NNN.h5` (their ids: those paths); logs and progress go to ``report`` as events
    and are kept in `logs` and `progress`; the session lives as long as the context. Thread-safe."""

    def __init__(
        self,
        package_dir: Path,
        inputs: Sequence[Path],
        out_dir: Path,
        assets: Collection[str] = (),
        report: Callable[[Event], None] | None = None,
    ) -> None:
        self._package_dir = package_dir
        self._inputs = {str(path): path for path in inputs}
        self._out_dir = out_dir
        self._assets = frozenset(assets)
        self._report = report or (lambda _: None)
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {}
        self._kpis = KpiBook()
        self._session: dict[str, bytes] = {}
        self._scratch: Path | None = None
        self.output_ids: list[str] = []
        self.logs: list[tuple[str, str]] = []
        self.progress: list[float] = []
        self.running = False

    @property
    def input_ids(self) -> list[str]:
        """The ids to pass as `input_dataset_ids`."""
        return list(self._inputs)

    @property
    def package_dir(self) -> Path:
        """The package folder (assets are read from it)."""
        return self._package_dir

    def read_data(self, file_id: str) -> bytes:
        """An input file's content. Raises NotFoundError for an id that is not one of the inputs."""
        path = self._inputs.get(file_id)
        if path is None:
            raise NotFoundError(f"file {file_id!r} is not one of the inputs ({', '.join(self._inputs)})")
        return path.read_bytes()

    def write_data(self, data: bytes) -> str:
        """Write one output file; returns its id (its path)."""
        with self._lock:
            path = self._out_dir / f"output_{len(self.output_ids):03d}.h5"
            self.output_ids.append(str(path))
        self._out_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self._report({"event": "output", "path": str(path)})
        return str(path)

    def asset_path(self, path: str) -> Path:
        """Where an asset of the package is, by its package path. Raises NotFoundError."""
        normalized = PurePosixPath(*[part for part in PurePosixPath(path).parts if part not in ("", ".")])
        if str(normalized) not in self._assets:
            raise NotFoundError(f"asset {path!r} not found in the algorithm package")
        return self._package_dir / normalized

    def read_asset(self, path: str) -> bytes:
        """An asset of the package by its package path. Raises NotFoundError."""
        return self.asset_path(path).read_bytes()

    def mark_running(self) -> None:
        """The runner entered its first hook."""
        self.running = True
        self._report({"event": "running"})

    def set_progress(self, progress: float) -> None:
        """Record and report progress."""
        with self._lock:
            self.progress.append(progress)
        self._report({"event": "progress", "progress": progress})

    def log(self, level: LogLevel, message: str) -> None:
        """Record and report a log line."""
        with self._lock:
            self.logs.append((level, message))
        stamp = utc_iso(time.time(), "milliseconds")
        self._report({"event": "log", "time": stamp, "level": level, "message": message})

    def raise_if_stop_requested(self) -> None:
        """Nothing stops a local run but Ctrl-C."""

    def scratch_dir(self) -> Path:
        """A scratch folder beside the outputs."""
        if self._scratch is None:
            self._scratch = self._out_dir / ".scratch"
            self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch

    def session_body(self, key: str) -> bytes:
        """A session item as stored (pickled). Raises KeyError."""
        return self._session[key]

    def store_session_body(self, key: str, body: bytes) -> None:
        """Store a session item the algorithm pickled."""
        self._session[key] = body

    def session_get(self, key: str) -> Any:
        """A session item. Raises KeyError."""
        return pickle.loads(self._session[key])  # noqa: S301  # what this process's own runner stored

    def session_put(self, key: str, value: Any) -> None:
        """Store a session item."""
        self._session[key] = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def session_delete(self, key: str) -> None:
        """Remove a session item. Raises KeyError."""
        del self._session[key]

    def flush(self) -> None:
        """Nothing is batched locally."""
