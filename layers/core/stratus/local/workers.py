"""Warm worker processes for local Batch jobs: each job is a process forked from a server that has
imported the worker (torch, h5py, the core package) once, so a job starts in milliseconds, not seconds.

A job is still a process of its own, as a container is: its own environment and output, an exit code,
and SIGTERM/SIGKILL stop it without touching other jobs. Only the local stack uses this; on AWS the
container runs `python -m gpu_worker <command>` (the image's entrypoint), which runs the same `main`.

The job's algorithm runs in a process of its own too (gpu_worker.sandbox), never a fork of the job (its
memory holds the stack's credentials and clients): a fork of a clean zygote, started here once with
the minimal environment, which has imported the runtime and torch, so it does not cost seconds a job.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from multiprocessing.context import ForkServerContext
    from multiprocessing.process import BaseProcess
    from pathlib import Path

    from gpu_worker.sandbox.zygote import Zygote

# Imported once by the fork server; every job inherits them. Importing them must start no threads and
# open no connections (forking copies neither safely), which holds: clients and settings are made lazily.
PRELOAD = ("stratus.local.workers", "stratus.local.preload")
# Two jobs (or a job and warm_up) may both be first to need the zygote: one starts it.
_ZYGOTE_START = threading.Lock()


@lru_cache(maxsize=1)
def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def _zygote() -> Zygote:
    with _ZYGOTE_START:
        if _started_zygote().process.poll() is not None:
            _started_zygote.cache_clear()  # it died: jobs get a new one rather than all failing
        return _started_zygote()


@lru_cache(maxsize=1)
def _started_zygote() -> Zygote:
    from gpu_worker.sandbox.zygote import start_zygote

    return start_zygote()  # it ends when this process does (its stdin is this process's pipe)


def warm_up() -> None:
    """Start the fork server and the algorithms' zygote now (each imports the worker or the runtime and
    torch: a few seconds), not at the first job."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()
    _zygote()


def start_job(command: Sequence[str], environment: Mapping[str, str], output: Path) -> BaseProcess:
    """Start ``python -m gpu_worker <command>`` as a forked process with exactly ``environment``,
    its stdout and stderr going to the file ``output``. The process's exitcode is the worker's exit
    status, or -N when signal N ended it."""
    process = _context().Process(
        target=_run,
        args=(list(command), dict(environment), str(output), _zygote().path),
        name="stratus-worker",
    )
    process.start()
    return process


def _run(command: list[str], environment: dict[str, str], output: str, zygote: str) -> None:
    """The job's process: the container's environment and output, then the worker's main, its
    algorithm's process forked by the zygote listening on ``zygote``."""
    os.environ.clear()
    os.environ.update(environment)
    from stratus.local.preload import fit_clients  # imported by the fork server

    fit_clients(environment)
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    from gpu_worker.__main__ import main
    from gpu_worker.sandbox.zygote import ZygoteLauncher

    sys.exit(main(command, ZygoteLauncher(zygote)))
