"""The algorithm's process: `python -m gpu_worker.sandbox <channel fd> <plan JSON> <preload>`, started by
the worker (gpu_worker.sandbox.launchers) with a minimal environment. It confines itself before it
imports anything but the standard library, then runs the job the worker hands over the channel."""

from __future__ import annotations

import os
import socket
import sys

from gpu_worker.sandbox.bootstrap import run_confined
from gpu_worker.sandbox.confinement import ConfinementPlan
from gpu_worker.sandbox.protocol import Channel


def main(argv: list[str]) -> int:
    """Confine this process, then serve the job; returns the exit status."""
    descriptor, plan, preload = argv
    channel = Channel(socket.socket(fileno=int(descriptor)))
    modules = [name for name in preload.split(",") if name]
    return run_confined(channel, ConfinementPlan.from_json(plan), modules)


if __name__ == "__main__":
    status = main(sys.argv[1:])
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    # Not sys.exit: threads the algorithm left running must not keep its process alive.
    os._exit(status)
