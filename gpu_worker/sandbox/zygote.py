"""The local stack's warm parent of algorithm processes: a clean interpreter (started with the minimal
environment, never given credentials, settings or clients) that has imported the runtime and torch once
and forks one confined process per job, so a local job does not wait seconds for them.

On AWS every container runs one job and starts its algorithm's process fresh (launchers.spawn_runner),
overlapping the worker's own start; this is only the local stack's. `python -m gpu_worker.sandbox.zygote
<socket path>`; a worker asks over the socket (SOCK_SEQPACKET: one JSON message a packet, the channel's
descriptor passed along), gets the pid, and later the exit status. A worker that goes away (its
connection closes) takes its algorithm's process with it; so does the zygote's own end.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from gpu_worker.sandbox.bootstrap import run_confined
from gpu_worker.sandbox.confinement import ConfinementPlan
from gpu_worker.sandbox.launchers import (
    REAP_TIMEOUT_S,
    confinement_plan,
    exit_status,
    minimal_environment,
    runner_environment,
)
from gpu_worker.sandbox.protocol import Channel

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gpu_worker.sandbox.folders import JobFolder

# The runtime, and what the algorithms most likely import (torch, and the built-ins' compute core).
PRELOAD = ("gpu_worker.sandbox.runner", "torch", "gpu_worker.compute", "hdf5plugin")
MAX_PACKET_BYTES = 256 * 1024
_CREDENTIALS = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid
# What a request passes: the channel, and the worker's stdout and stderr.
_PASSED = ("channel", "stdout", "stderr")
_READY = b"ready\n"
# How long a worker waits for the zygote to answer, and the zygote to start (it imports torch).
ANSWER_TIMEOUT_S = 30.0
START_TIMEOUT_S = 120.0
_EXIT_FAILED = 1


def serve(path: str) -> None:
    """Preload, listen on ``path`` and fork an algorithm process per request until stdin closes (the
    local stack that started this is gone)."""
    for module in PRELOAD:
        with contextlib.suppress(ImportError):  # torch is optional
            importlib.import_module(module)
    # Out of the collector's reach: a child's first collection does not touch (copy) the preloaded heap.
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup descriptor hears of exits
    sys.stdout.buffer.write(_READY)
    sys.stdout.flush()
    _Zygote(listener, wake_read).run()


class _Zygote:
    """The serving loop: connections from workers, their processes' ends, and the lifeline."""

    def __init__(self, listener: socket.socket, wake: int) -> None:
        self._listener = listener
        self._wake = wake
        # Each running algorithm process and its worker's connection (None once the worker left).
        self._children: dict[int, socket.socket | None] = {}

    def run(self) -> None:
        while True:
            connections = [conn for conn in self._children.values() if conn is not None]
            readable, _, _ = select.select([self._listener, self._wake, sys.stdin, *connections], [], [])
            if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1):
                self._kill_all()
                return
            if self._listener in readable:
                self._accept()
            for pid, conn in list(self._children.items()):
                if conn is not None and conn in readable:
                    self._hear(pid, conn)
            if self._wake in readable:
                os.read(self._wake, 4096)
            self._reap()

    def _accept(self) -> None:
        conn, _ = self._listener.accept()
        try:
            if self._is_own_descendant(conn):
                raise PermissionError("an algorithm process may not start others")
            message, descriptors, _, _ = socket.recv_fds(conn, MAX_PACKET_BYTES, len(_PASSED))
            if len(descriptors) != len(_PASSED):
                for descriptor in descriptors:
                    os.close(descriptor)
                raise ValueError("a request carries the channel, stdout and stderr descriptors")
            request = json.loads(message)
        except (OSError, ValueError):
            conn.close()
            return
        pid = os.fork()
        if pid == 0:
            self._become_runner(conn, descriptors, request)
        for descriptor in descriptors:
            os.close(descriptor)
        self._children[pid] = conn
        with contextlib.suppress(OSError):
            conn.send(json.dumps({"pid": pid}).encode())

    def _is_own_descendant(self, conn: socket.socket) -> bool:
        """Whether the peer is one of this zygote's algorithm processes (or something one started): when
        the algorithm runs as the worker's user, it could reach this socket."""
        pid, _, _ = _CREDENTIALS.unpack(
            conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
        )
        while pid > 1:
            if pid == os.getpid():
                return True
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return True  # gone or hidden: refuse rather than guess
            pid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        return False

    def _hear(self, pid: int, conn: socket.socket) -> None:
        # The worker asks for a kill, or went away (end of stream): either way its process goes.
        try:
            is_gone = not conn.recv(MAX_PACKET_BYTES)
        except OSError:
            is_gone = True
        if is_gone:
            conn.close()
            self._children[pid] = None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # unreaped, so the group id is still its own

    def _reap(self) -> None:
        while self._children:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None:
                return
            # What it started goes with it: its group is killed while it is unreaped, so the group's
            # id is still its own.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(info.si_pid, signal.SIGKILL)
            os.waitpid(info.si_pid, 0)
            conn = self._children.pop(info.si_pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.send(json.dumps({"status": exit_status(info)}).encode())
                conn.close()

    def _kill_all(self) -> None:
        for pid in self._children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def _become_runner(
        self, conn: socket.socket, descriptors: list[int], request: dict[str, Any]
    ) -> NoReturn:
        """In the forked child: shed the zygote's state, take the worker's output, confine, serve the job."""
        status = _EXIT_FAILED
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for other in (self._listener, conn, *(c for c in self._children.values() if c is not None)):
                other.close()
            os.close(self._wake)
            channel_descriptor, output, errors = descriptors
            # Its prints go where the worker's do (the job's log stream), and it reads nothing.
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            for source, target in ((output, 1), (errors, 2)):
                os.dup2(source, target)
                os.close(source)
            os.setsid()  # its own process group, which the worker and this zygote kill as one
            os.environ.clear()
            os.environ.update({str(key): str(value) for key, value in request["environment"].items()})
            channel = Channel(socket.socket(fileno=channel_descriptor))
            status = run_confined(channel, ConfinementPlan.from_json(request["plan"]), [])
        except BaseException:  # noqa: BLE001  # the child must end here, never return into the loop
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os._exit(status)


class ZygoteRunner:
    """An algorithm process the zygote forked (launchers.RunnerProcess); its exit status comes over the
    worker's connection to the zygote, which also carries the kill request."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._pid: int | None = None
        self._status: int | None = None

    @property
    def pid(self) -> int:
        """Its process id (the zygote's first answer, read when first needed: the worker goes on with
        the job while the zygote forks)."""
        if self._pid is None:
            readable, _, _ = select.select([self._conn], [], [], ANSWER_TIMEOUT_S)
            answer = self._conn.recv(MAX_PACKET_BYTES) if readable else b""
            if not answer:
                raise ConnectionError("the zygote did not start the algorithm's process")
            self._pid = int(json.loads(answer)["pid"])
        return self._pid

    def poll(self) -> int | None:
        """Its exit status, or None while it runs."""
        return self._status_within(0)

    def wait(self, timeout: float) -> int | None:
        """Its exit status once it ended within ``timeout`` seconds, else None."""
        return self._status_within(timeout)

    def kill(self) -> None:
        """Have the zygote SIGKILL its process group; wait until it is reaped."""
        if self._conn.fileno() < 0:
            return
        with contextlib.suppress(ConnectionError):
            self.pid  # noqa: B018  # the pid answer comes first on the connection
        if self._status is None:
            with contextlib.suppress(OSError):
                self._conn.send(b'{"kill": true}')
            self._status_within(REAP_TIMEOUT_S)
        self._conn.close()

    def _status_within(self, timeout: float) -> int | None:
        if self._pid is None:
            self.pid  # noqa: B018  # the pid answer comes first on the connection
        if self._status is None and self._conn.fileno() >= 0:
            readable, _, _ = select.select([self._conn], [], [], timeout)
            if readable:
                try:
                    answer = self._conn.recv(MAX_PACKET_BYTES)
                except ConnectionError:  # reset rather than closed: gone all the same
                    answer = b""
                # No answer: the zygote itself is gone, and its children with it.
                self._status = int(json.loads(answer)["status"]) if answer else -signal.SIGKILL
        return self._status


class ZygoteLauncher:
    """launchers.Launch through the zygote listening on ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(
        self,
        folder: JobFolder,
        channel: socket.socket,
        preload: Sequence[str],  # noqa: ARG002  # Launch's signature: the zygote preloaded already
    ) -> ZygoteRunner:
        """Ask the zygote for the algorithm's process of ``folder``."""
        request = {
            "plan": confinement_plan(folder, None).to_json(),
            "environment": runner_environment(folder, os.environ),
        }
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            conn.settimeout(ANSWER_TIMEOUT_S)
            conn.connect(self.path)
            socket.send_fds(conn, [json.dumps(request).encode()], [channel.fileno(), 1, 2])
            conn.settimeout(None)
        except BaseException:
            conn.close()
            raise
        return ZygoteRunner(conn)


@dataclass
class Zygote:
    """A running zygote: its process (whose stdin is its lifeline) and socket."""

    process: subprocess.Popen[bytes]
    path: str
    directory: tempfile.TemporaryDirectory[str]

    def stop(self) -> None:
        """Close its lifeline: it kills its algorithm processes and exits."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(REAP_TIMEOUT_S)
        self.directory.cleanup()


def start_zygote() -> Zygote:
    """Start a zygote (it imports the runtime and torch: seconds) and wait until it listens. Raises
    RuntimeError when it does not come up."""
    directory = tempfile.TemporaryDirectory(prefix="stratus-zygote-")  # 0700: only this user connects
    path = str(Path(directory.name) / "zygote.sock")
    environment = {**minimal_environment(os.environ), "HOME": directory.name, "TMPDIR": directory.name}
    process = subprocess.Popen(  # noqa: S603  # our own module, with this interpreter
        [sys.executable, "-s", "-P", "-m", "gpu_worker.sandbox.zygote", path],
        env=environment,
        cwd=directory.name,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    output = process.stdout
    readable, _, _ = select.select([output] if output else [], [], [], START_TIMEOUT_S)
    if output is None or not readable or output.readline() != _READY:
        process.kill()
        directory.cleanup()
        raise RuntimeError("the algorithm zygote did not start")
    return Zygote(process, path, directory)


if __name__ == "__main__":
    serve(sys.argv[1])
