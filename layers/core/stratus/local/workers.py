"""Warm worker processes for local Batch jobs: each job is a process forked from a server that has
imported the worker (torch, h5py, the core package) once, so a job starts in milliseconds, not seconds.

A job is still a process of its own, as a container is: its own environment and output, an exit code,
and SIGTERM/SIGKILL stop it without touching other jobs. Only the local stack uses this; on AWS the
container runs `python -m gpu_worker <command>` (the image's entrypoint), which runs the same `main`.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from multiprocessing.context import ForkServerContext
    from multiprocessing.process import BaseProcess
    from pathlib import Path

# Imported once by the fork server; every job inherits them. Importing them must start no threads and
# open no connections (forking copies neither safely), which holds: clients and settings are made lazily.
PRELOAD = ("stratus.local.workers", "stratus.local.preload")


@lru_cache(maxsize=1)
def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def warm_up() -> None:
    """Start the fork server now (it imports the worker: about two seconds), not at the first job."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


def start_job(command: Sequence[str], environment: Mapping[str, str], output: Path) -> BaseProcess:
    """Start ``python -m gpu_worker <command>`` as a forked process with exactly ``environment``,
    its stdout and stderr going to the file ``output``. The process's exitcode is the worker's exit
    status, or -N when signal N ended it."""
    process = _context().Process(
        target=_run, args=(list(command), dict(environment), str(output)), name="stratus-worker"
    )
    process.start()
    return process


def _run(command: list[str], environment: dict[str, str], output: str) -> None:
    """The job's process: the container's environment and output, then the worker's main."""
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

    sys.exit(main(command))
