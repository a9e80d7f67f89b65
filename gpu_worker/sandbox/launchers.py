"""Starting the algorithm's process: a fresh interpreter with an explicit, minimal environment, its end of
the channel, and the confinement plan it applies to itself before it imports anything else."""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import stratus

import gpu_worker
from gpu_worker.sandbox.confinement import ConfinementPlan, make_undumpable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gpu_worker.sandbox.folders import JobFolder

# When the worker is root, each job's algorithm runs as a user and group of its own from this range (ids
# no account uses): two jobs' processes on one host (the local stack) cannot trace or signal each other,
# nor read each other's files. On AWS a container runs one job.
RUNNER_IDS = range(3_000_000, 3_000_000 + 65_536)
# The name getpass.getuser() and friends find (the ids have no /etc/passwd entry).
RUNNER_USER = "stratus-runner"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# All the algorithm's process sees of the worker's environment: where the interpreter finds our code and
# the GPU libraries, and thread counts. Never AWS_*, TABLE_NAME, DATA_BUCKET or any stack setting.
PASSED_VARIABLES = frozenset({"PYTHONPATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "TZ"})
PASSED_PREFIXES = ("CUDA_", "NVIDIA_", "OMP_", "MKL_", "OPENBLAS_")
# What a signal most likely means, for the job's error.
CRASH_CAUSES = {"SIGKILL": " (out of memory, or killed)", "SIGSEGV": " (a crash in native code)"}
# How often wait() looks where the kernel cannot say when a process ends.
POLL_INTERVAL_S = 0.01
# Seconds a process that was killed gets to be reaped.
REAP_TIMEOUT_S = 10.0


class RunnerProcess(Protocol):
    """The algorithm's process as the worker controls it."""

    @property
    def pid(self) -> int:
        """Its process id."""
        ...

    def poll(self) -> int | None:
        """Its exit status (-N: killed by signal N), or None while it runs."""
        ...

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for its end; its exit status, or None."""
        ...

    def kill(self) -> None:
        """SIGKILL it and what it started in its process group, and reap it."""
        ...


Launch = Callable[["JobFolder", socket.socket, Sequence[str]], RunnerProcess]


def runner_owner() -> tuple[int, int] | None:
    """A job's user and group (the same number) for its algorithm, or None: the worker's own (only root
    can switch users)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return None
    runner_id = RUNNER_IDS[secrets.randbelow(len(RUNNER_IDS))]
    return runner_id, runner_id


def minimal_environment(worker_environment: Mapping[str, str]) -> dict[str, str]:
    """An algorithm process's environment but its folders: an allow-list of the worker's variables."""
    passed = {
        name: value
        for name, value in worker_environment.items()
        if name in PASSED_VARIABLES or name.startswith(PASSED_PREFIXES)
    }
    return {
        "LANG": "C.UTF-8",
        **passed,
        "PATH": DEFAULT_PATH,
        "USER": RUNNER_USER,
        "LOGNAME": RUNNER_USER,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def runner_environment(folder: JobFolder, worker_environment: Mapping[str, str]) -> dict[str, str]:
    """The algorithm's whole environment: the minimal one, and its own folders as home and temp."""
    return {**minimal_environment(worker_environment), "HOME": str(folder.work), "TMPDIR": str(folder.temp)}


def confinement_plan(folder: JobFolder, parent_pid: int | None) -> ConfinementPlan:
    """How the algorithm's process for ``folder`` confines itself."""
    owner = folder.owner
    packages = [str(Path(module.__file__ or "").resolve().parent) for module in (gpu_worker, stratus)]
    cwd = Path.cwd().resolve()
    # The worker's own directory (sys.path's first entry under `-m`) is not the algorithm's business.
    search = [path for path in sys.path if path and Path(path).resolve() != cwd]
    interpreter = str(Path(sys.executable).resolve().parent)
    candidates = [*search, *packages, sys.prefix, sys.base_prefix, interpreter]
    keep = tuple(dict.fromkeys(str(Path(path).resolve()) for path in candidates if Path(path).exists()))
    home = str(Path.home().resolve())
    return ConfinementPlan(
        job_dir=str(folder.root),
        uid=owner[0] if owner else None,
        gid=owner[1] if owner else None,
        keep_paths=keep,
        required_paths=tuple(packages),
        hidden_home=home if home != "/" else None,
        parent_pid=parent_pid,
    )


def exit_status(info: os.waitid_result) -> int:
    """A waitid result as an exit status: the code, or -N for a process that signal N ended."""
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


class SpawnedRunner:
    """The algorithm's process, a child of this worker. Only `kill` reaps it, after killing its process
    group: while the group's leader is unreaped, the group's id cannot name anyone else's processes."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._status: int | None = None
        # Readable once the process ended (Linux 5.3+); elsewhere wait() polls.
        self._exit_handle = os.pidfd_open(process.pid) if hasattr(os, "pidfd_open") else None

    @property
    def pid(self) -> int:
        """Its process id."""
        return self._process.pid

    def poll(self) -> int | None:
        """Its exit status, or None while it runs (it stays unreaped)."""
        if self._status is None and self._process.returncode is None:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            self._status = exit_status(info) if info is not None else None
        return self._status if self._process.returncode is None else self._process.returncode

    def wait(self, timeout: float) -> int | None:
        """Its exit status once it ended within ``timeout`` seconds, else None."""
        deadline = time.monotonic() + timeout
        while (status := self.poll()) is None and (left := deadline - time.monotonic()) > 0:
            if self._exit_handle is not None:
                select.select([self._exit_handle], [], [], left)
            else:
                time.sleep(min(left, POLL_INTERVAL_S))
        return status

    def kill(self) -> None:
        """SIGKILL its process group (it leads one) and it, and reap it."""
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            self._process.kill()  # it may have left its group
            self._process.wait(REAP_TIMEOUT_S)
        if self._exit_handle is not None:
            os.close(self._exit_handle)
            self._exit_handle = None


def spawn_runner(folder: JobFolder, channel: socket.socket, preload: Sequence[str] = ()) -> SpawnedRunner:
    """Start `python -m gpu_worker.sandbox` for ``folder``, its channel's end ``channel`` passed as its
    only open descriptor besides the standard ones. ``preload``: modules it imports while it waits for
    the job (torch, when the job will most likely need it)."""
    descriptor = channel.fileno()
    plan = confinement_plan(folder, os.getpid())
    # -s: no user site-packages; -P: not its working directory on sys.path either.
    command = [sys.executable, "-s", "-P", "-m", "gpu_worker.sandbox", str(descriptor), plan.to_json()]
    process = subprocess.Popen(  # noqa: S603  # our own module, with this interpreter
        [*command, ",".join(preload)],
        # The allow-list is applied to the worker's environment: this is the one place that reads it whole.
        env=runner_environment(folder, os.environ),
        pass_fds=(descriptor,),
        cwd=folder.root,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return SpawnedRunner(process)


def describe_exit(status: int | None) -> str:
    """How a process ended, in words: `was killed by SIGSEGV`, `exited with status 3`."""
    if status is None:
        return "did not end"
    if status < 0:
        name = signal.Signals(-status).name if -status in signal.Signals._value2member_map_ else str(-status)
        cause = CRASH_CAUSES.get(name, "")
        return f"was killed by {name}{cause}"
    return f"exited with status {status}"


def launch_runner(
    folder: JobFolder, launch: Launch = spawn_runner, preload: Sequence[str] = ()
) -> tuple[RunnerProcess, socket.socket]:
    """Start the algorithm's process for ``folder``; returns it and the worker's end of its channel.
    Cheap to import and call: the worker starts it before it imports torch and the stores itself."""
    # This process holds the job's AWS credentials: one of the same user (the algorithm's, when the worker
    # is not root) may not trace it or read its /proc files (environ, mem).
    make_undumpable()
    ours, theirs = socket.socketpair()
    try:
        process = launch(folder, theirs, preload)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()  # the process holds its own copy
    return process, ours
