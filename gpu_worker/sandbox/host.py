"""Sandbox: the algorithm's process seen from the worker. It serves the process's calls until the process
reports how the job ended, or until the process ends without saying (a crash), and never lets it
outlive the job."""

from __future__ import annotations

import contextlib
import select
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from stratus.algorithms import StopRequested
from stratus.errors import StratusError
from stratus.models.jobs import JobError
from stratus.observability import logger

from gpu_worker.sandbox.folders import JobFolder, temporary_job_folder
from gpu_worker.sandbox.launchers import (
    Launch,
    RunnerProcess,
    describe_exit,
    launch_runner,
    runner_owner,
    spawn_runner,
)
from gpu_worker.sandbox.protocol import Channel, ChannelClosedError, ProtocolError
from gpu_worker.sandbox.service import MissingSessionItemError

if TYPE_CHECKING:
    from gpu_worker.sandbox.service import RunnerService

# Calls that move data, answered in threads so that a runner's parallel fetches run in parallel; the
# others are quick and answered in turn.
SLOW_CALLS = frozenset({"read_data", "write_data", "save_checkpoint", "session_get", "session_put"})
CALL_THREADS = 4
# Slow calls waiting for a thread at most: beyond it the worker reads no more until one is done, so a
# process that sends calls without waiting for answers cannot fill the worker's memory.
MAX_WAITING_CALLS = 32
# How often the worker looks whether the process ended while its channel stays silent, and how long
# after its end the channel may still deliver what it sent.
EXIT_POLL_S = 0.5
DRAIN_S = 1.0
# How long a process that ended without a report gets to be reaped, to tell how it ended.
EXIT_GRACE_S = 10.0
# What of an error a client gets: the traceback's end (the failing frame and the error) matters most.
MAX_ERROR_TYPE_CHARS = 128
MAX_ERROR_MESSAGE_CHARS = 8 * 1024
MAX_TRACEBACK_CHARS = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    """How the algorithm's run ended, as the worker records it."""

    status: Literal["completed", "stopped", "failed"]
    output_ids: tuple[str, ...] = ()
    error: JobError | None = None
    trace: str = ""


def failed(kind: str, message: str) -> Outcome:
    """A FAILED outcome that the worker, not the algorithm, describes."""
    return Outcome("failed", error=JobError(type=kind, message=message))


class _Finish(BaseModel):
    """The algorithm's report of how the job ended (untrusted: only its shape is relied on)."""

    model_config = ConfigDict(extra="ignore")

    outcome: Literal["completed", "stopped", "failed", "unconfined"]
    output_ids: list[str] = []
    error: JobError | None = None
    traceback: str = ""

    def to_outcome(self) -> Outcome:
        if self.outcome in ("completed", "stopped"):
            return Outcome(self.outcome, output_ids=tuple(self.output_ids))
        error = self.error or JobError(type="RuntimeError", message="the algorithm failed")
        error = JobError(
            type=error.type[:MAX_ERROR_TYPE_CHARS], message=error.message[:MAX_ERROR_MESSAGE_CHARS]
        )
        return Outcome("failed", error=error, trace=self.traceback[-MAX_TRACEBACK_CHARS:])


class Sandbox:
    """One job's algorithm process, its channel and its folder."""

    def __init__(self, folder: JobFolder, process: RunnerProcess, channel: Channel) -> None:
        self.folder = folder
        self._process = process
        self._channel = channel

    def serve(self, service: RunnerService) -> Outcome:
        """Answer the process's calls with ``service`` until it reports how the job ended; a process
        that ends without a report, or breaks the protocol, is a FAILED outcome."""
        waiting = threading.BoundedSemaphore(MAX_WAITING_CALLS)
        with ThreadPoolExecutor(CALL_THREADS, thread_name_prefix="runner-call") as calls:
            try:
                while (message := self._next_message()) is not None:
                    method = message.get("method")
                    if method == "finish":
                        return self._finished(message)
                    if "id" not in message:
                        self._hear(service, message)  # in order, as sent: log lines stay in order
                    elif method in SLOW_CALLS:
                        waiting.acquire()
                        calls.submit(self._answer, service, message).add_done_callback(
                            lambda _: waiting.release()
                        )
                    else:
                        self._answer(service, message)  # no thread hand-off for a quick call
            except ProtocolError as exc:
                self._process.kill()
                return failed("RunnerProtocolError", f"the algorithm's process broke its channel: {exc}")
        return self._crashed()

    def close(self) -> None:
        """Kill the process (and its process group) if it still runs, and close the channel."""
        self._process.kill()
        self._channel.close()

    def _next_message(self) -> dict[str, Any] | None:
        """The process's next message; None once it ended and its channel has nothing more."""
        ended_at: float | None = None
        while True:
            readable, _, _ = select.select([self._channel], [], [], EXIT_POLL_S)
            if readable:
                try:
                    return self._channel.receive()
                except ChannelClosedError:
                    return None
            if ended_at is None and self._process.poll() is not None:
                # Ended, yet open: something it forked holds the channel. Take what is there, then stop.
                ended_at = time.monotonic()
            if ended_at is not None and time.monotonic() - ended_at >= DRAIN_S:
                return None

    def _hear(self, service: RunnerService, message: dict[str, Any]) -> None:
        """Do a notification (a call that wants no answer: a log line, progress)."""
        method = message.get("method")
        try:
            service.handle(method, message.get("params"))
        except Exception:
            # Nobody to tell: the algorithm's runtime checked what it sent, so this is the worker's trouble
            # or a hostile algorithm's, and either way the worker's log has it.
            logger.exception(
                "a notification of the algorithm failed in the worker", extra={"method": str(method)}
            )

    def _answer(self, service: RunnerService, message: dict[str, Any]) -> None:
        method = message.get("method")
        reply: dict[str, Any] = {"id": message.get("id")}
        try:
            reply["result"] = service.handle(method, message.get("params"))
        except MissingSessionItemError as exc:
            reply["error"] = {"type": "KeyError", "key": exc.key}
        except (StratusError, StopRequested) as exc:
            reply["error"] = {"type": type(exc).__name__, "message": str(exc)}
        except Exception:
            # The worker's own trouble (S3, DynamoDB): its details stay in the worker's log.
            logger.exception("a call of the algorithm failed in the worker", extra={"method": str(method)})
            reply["error"] = {"type": "WorkerError", "message": f"the worker could not complete {method!r}"}
        try:
            self._channel.send(reply)
        except OSError:
            logger.info("the algorithm's process ended before its answer", extra={"method": str(method)})

    def _finished(self, message: dict[str, Any]) -> Outcome:
        try:
            outcome = _Finish.model_validate(message.get("params")).to_outcome()
        except ValidationError:
            outcome = failed("RunnerProtocolError", "the algorithm's process reported an unreadable outcome")
        with contextlib.suppress(OSError):
            self._channel.send({"id": message.get("id"), "result": None})
        # Not waited for: it exits now, and `close` (after the job's final write) kills what is left.
        return outcome

    def _crashed(self) -> Outcome:
        status = self._process.wait(EXIT_GRACE_S)
        if status is None:
            self._process.kill()
            status = self._process.poll()
        return failed(
            "RunnerCrashedError", f"the algorithm's process {describe_exit(status)} before the job ended"
        )


def start_sandbox(folder: JobFolder, launch: Launch = spawn_runner, preload: Sequence[str] = ()) -> Sandbox:
    """Start the algorithm's process for ``folder``; it confines itself and waits for the job."""
    process, channel = launch_runner(folder, launch, preload)
    return Sandbox(folder, process, Channel(channel))


@contextlib.contextmanager
def open_sandbox(kind: str, launch: Launch = spawn_runner, preload: Sequence[str] = ()) -> Iterator[Sandbox]:
    """A job folder and the algorithm's process for it; both are gone when the block ends."""
    with temporary_job_folder(kind, runner_owner()) as folder:
        sandbox = start_sandbox(folder, launch, preload)
        try:
            yield sandbox
        finally:
            sandbox.close()
