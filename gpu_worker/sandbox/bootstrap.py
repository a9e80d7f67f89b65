"""The first steps of the algorithm's process, whichever way it started (a fresh interpreter, or a fork
of the local zygote): confine itself, and only then import the runtime and serve the job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpu_worker.sandbox.confinement import ConfinementError, confine

if TYPE_CHECKING:
    from gpu_worker.sandbox.confinement import ConfinementPlan
    from gpu_worker.sandbox.protocol import Channel


def run_confined(channel: Channel, plan: ConfinementPlan, preload: list[str]) -> int:
    """Confine this process as ``plan`` asks and serve the job over ``channel``; returns the exit status.
    A process that cannot be confined tells the worker why and runs nothing."""
    try:
        notes = confine(plan)
    except (ConfinementError, OSError) as exc:
        error = {"type": "SandboxError", "message": f"the algorithm's sandbox could not start: {exc}"}
        channel.send({"id": 0, "method": "finish", "params": {"outcome": "unconfined", "error": error}})
        return 1
    # Only now: importing numpy and friends starts threads, and the runtime reads files as the sandbox user.
    from gpu_worker.sandbox.runner import serve_job

    return serve_job(channel, notes, preload)
