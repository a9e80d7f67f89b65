"""The algorithm's side of the channel: a client whose calls the worker answers, and RemoteContext, the
RunnerContext a runner gets in the algorithm's process (every call goes to the worker's JobContext)."""

from __future__ import annotations

import os
import pickle
import sys
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stratus import errors
from stratus.algorithms import StopRequested

from gpu_worker.sandbox.protocol import Channel, ChannelClosedError, ProtocolError

if TYPE_CHECKING:
    from stratus.algorithms.runtime import LogLevel

# The algorithm's process exits with this when the worker closed the channel (it ended or died).
EXIT_WORKER_GONE = 71


class WorkerError(RuntimeError):
    """The worker could not do what the algorithm asked, for a reason of its own (see the worker's log)."""


def _raisable() -> dict[str, type[Exception]]:
    """The errors the worker's answers may name, by class name: what the in-process context raised."""
    found: dict[str, type[Exception]] = {"StopRequested": StopRequested, "ValueError": ValueError}
    pending: list[type[Exception]] = [errors.StratusError]
    while pending:
        current = pending.pop()
        found[current.__name__] = current
        pending.extend(current.__subclasses__())
    return found


RAISABLE = _raisable()


def to_json(value: Any) -> Any:
    """numpy scalars and arrays as JSON numbers and lists (runners put them in state and properties).
    Raises TypeError for anything else JSON cannot hold."""
    convert = getattr(value, "tolist", None)  # numpy scalars and arrays alike
    if callable(convert) and type(value).__module__ == "numpy":
        return convert()
    raise TypeError(f"{type(value).__name__} cannot go to the worker: use numbers, strings, lists, dicts")


class _Reply:
    """One call's answer, filled in by the client's reader thread."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.message: dict[str, Any] = {}

    def result(self) -> Any:
        """The answer's result. Raises the error the worker named (a domain error, StopRequested,
        KeyError, ValueError) or WorkerError."""
        self.ready.wait()
        error = self.message.get("error")
        if error is None:
            return self.message.get("result")
        kind, message = str(error.get("type")), str(error.get("message"))
        if kind == "KeyError":
            raise KeyError(error.get("key"))
        raise RAISABLE.get(kind, WorkerError)(message)


class Client:
    """Calls into the worker, from any thread of the algorithm. When the worker closes the channel, the
    process exits at once: it never outlives the job."""

    def __init__(self, channel: Channel) -> None:
        channel.default = to_json
        self._channel = channel
        self._lock = threading.Lock()
        self._next_id = 0
        self._pending: dict[int, _Reply] = {}
        threading.Thread(target=self._read, name="stratus-channel", daemon=True).start()

    def request(self, method: str, **params: Any) -> _Reply:
        """Send a call; its answer comes through the returned reply's `result`."""
        reply = _Reply()
        with self._lock:
            self._next_id += 1
            call_id = self._next_id
            self._pending[call_id] = reply
        self._channel.send({"id": call_id, "method": method, "params": params})
        return reply

    def notify(self, method: str, **params: Any) -> None:
        """Send a call that wants no answer (the worker does it in order, and logs its failures)."""
        self._channel.send({"method": method, "params": params})

    def call(self, method: str, **params: Any) -> Any:
        """Call the worker and wait for its answer (see `_Reply.result` for what it raises)."""
        return self.request(method, **params).result()

    def _read(self) -> None:
        while True:
            try:
                message = self._channel.receive()
            except (ChannelClosedError, ProtocolError, OSError):
                sys.stderr.flush()
                os._exit(EXIT_WORKER_GONE)
            with self._lock:
                reply = self._pending.pop(message.get("id", -1), None)
            if reply is not None:
                reply.message = message
                reply.ready.set()


class RemoteContext:
    """RunnerContext in the algorithm's process: data comes and goes as files of the job folder, and
    the rest is a call to the worker, which checks and does it."""

    def __init__(self, client: Client, scratch: Path, outbox: Path) -> None:
        self._client = client
        self._scratch = scratch
        self._outbox = outbox

    def _leave(self, body: bytes, suffix: str) -> str:
        """Write ``body`` as a new outbox file; returns its name for the worker."""
        name = f"{uuid.uuid4().hex}{suffix}"
        (self._outbox / name).write_bytes(body)
        return name

    def read_data(self, file_id: str) -> Path:
        """The input's HDF5 file, staged by the worker."""
        return Path(self._client.call("read_data", file_id=file_id))

    def write_data(self, data: bytes) -> str:
        """Hand one output file to the worker; returns its new file id."""
        return str(self._client.call("write_data", name=self._leave(data, ".h5")))

    def read_asset(self, path: str) -> bytes:
        """An asset of the staged package (the worker checks the plan lists it)."""
        return Path(self._client.call("asset_path", path=path)).read_bytes()

    def mark_running(self) -> None:
        """The job enters its first hook."""
        self._client.call("mark_running")

    def set_progress(self, progress: float) -> None:
        """Report progress (BaseRunner checked it); the worker throttles the writes."""
        self._client.notify("set_progress", progress=progress)

    def log(self, level: LogLevel, message: str) -> None:
        """Append a line to the job's log (BaseRunner checked the level)."""
        self._client.notify("log", level=level, message=message)

    def raise_if_stop_requested(self) -> None:
        """Raise StopRequested when a stop was requested (the worker polls, throttled)."""
        self._client.call("raise_if_stop_requested")

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the job's free-form state (JSON: numbers, strings, lists, dicts)."""
        self._client.call("set_state", state=state)

    def get_state(self) -> dict[str, Any]:
        """The job's free-form state."""
        state: dict[str, Any] = self._client.call("get_state")
        return state

    def report_kpi(self, name: str, value: float, unit: str | None) -> None:
        """Report a KPI (BaseRunner checked it, and the count); the worker throttles the writes."""
        self._client.notify("report_kpi", name=name, value=value, unit=unit)

    def save_checkpoint(self, assets: dict[str, bytes], properties: dict[str, Any]) -> str:
        """Hand checkpoint assets (package path → bytes) to the worker; returns the checkpoint id."""
        names = {path: self._leave(content, ".asset") for path, content in assets.items()}
        return str(self._client.call("save_checkpoint", assets=names, properties=properties))

    def read_samples(self, sample_ids: list[str]) -> list[dict[str, Any]]:
        """The samples' manifests."""
        manifests: list[dict[str, Any]] = self._client.call("read_samples", sample_ids=list(sample_ids))
        return manifests

    def validation_sample_ids(self) -> list[str]:
        """Sample ids the training may evaluate on."""
        return [str(sample_id) for sample_id in self._client.call("validation_sample_ids")]

    def set_steps(self, current_step: int, total_steps: int) -> None:
        """Training steps as progress."""
        self._client.call("set_steps", current_step=current_step, total_steps=total_steps)

    def scratch_dir(self) -> Path:
        """The job's private scratch folder (the algorithm's own)."""
        return self._scratch

    def session_get(self, key: str) -> Any:
        """An item of the job's session, unpickled here: the worker never unpickles. Raises KeyError."""
        path = Path(self._client.call("session_get", key=key))
        return pickle.loads(path.read_bytes())  # noqa: S301  # this tenant's own items, in its own sandbox

    def session_put(self, key: str, value: Any) -> None:
        """Store an item in the job's session."""
        name = self._leave(pickle.dumps(value, pickle.HIGHEST_PROTOCOL), ".pickle")
        self._client.call("session_put", key=key, name=name)

    def session_delete(self, key: str) -> None:
        """Remove an item of the job's session. Raises KeyError."""
        self._client.call("session_delete", key=key)
