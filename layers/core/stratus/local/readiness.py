"""The local stack's API serves only once the stack is ready: uvicorn's factory builds the app, then waits
for the launcher's word on stdin, and only then does uvicorn bind its port. Nothing answers (not even
/health) while the launcher restores the saved state and deploys the built-ins, so no request sees a
half-restored table; building the app (the slow part) still overlaps that work."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

from stratus.local.gateway import create_local_app

if TYPE_CHECKING:
    import subprocess

    from starlette.types import ASGIApp

# uvicorn's factory for the launcher: `stratus.local.readiness:create_gated_app`.
APP_FACTORY = f"{__name__}:create_gated_app"
READY_LINE = b"serve\n"
# Written to stderr once the app is built and waits: tests know then that it would be serving otherwise.
WAITING_MESSAGE = "the API is built and waits until the local stack is ready"


def create_gated_app() -> ASGIApp:
    """The local app, returned once the launcher writes READY_LINE to this process's stdin.

    Raises SystemExit when stdin closes first (the launcher stopped while starting).
    """
    app = create_local_app()
    print(WAITING_MESSAGE, file=sys.stderr, flush=True)  # noqa: T201  # the launcher's log
    if sys.stdin.buffer.readline() != READY_LINE:
        raise SystemExit("the local stack stopped before it was ready")
    return app


def release(process: subprocess.Popen[bytes]) -> None:
    """Let the API process (started with stdin=PIPE) serve."""
    if process.stdin is None:
        raise ValueError("the API process was started without stdin=PIPE")
    # A process that exited meanwhile says so through the launcher's wait for its port.
    with contextlib.suppress(BrokenPipeError):
        process.stdin.write(READY_LINE)
        process.stdin.close()
