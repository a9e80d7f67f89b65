"""The worker's command line (the Batch entry point): `python -m gpu_worker run-execution <execution_id>`,
`python -m gpu_worker run-training <training_id> <round>` or `python -m gpu_worker build-environment
<digest>`."""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gpu_worker.sandbox.folders import temporary_job_folder
from gpu_worker.sandbox.launchers import Launch, launch_runner, runner_owner, spawn_runner

if TYPE_CHECKING:
    from types import FrameType

    from gpu_worker.sandbox.host import Sandbox

# Batch (and the local shim) judge a job by its exit code: only COMPLETED is success. STOPPED has its
# own code so a Batch retry strategy can tell a stop from a failure; 2 is argparse's usage error.
EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_STOPPED = 3
# By status value (ExecutionStatus is a StrEnum): the models are imported only after the algorithm's
# process has started.
EXIT_CODES = {
    "COMPLETED": EXIT_COMPLETED,
    "FAILED": EXIT_FAILED,
    "STOPPED": EXIT_STOPPED,
    # A training round ends with the training still RUNNING; SelectBest and Finalize end the chain.
    "RUNNING": EXIT_COMPLETED,
}
# Imported by the algorithm's process while the worker reads the job and stages its package: most
# algorithms on a GPU worker import torch, and that takes seconds.
PRELOAD = ("torch",)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gpu_worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    execution = commands.add_parser("run-execution", help="run one execution by id")
    execution.add_argument("execution_id")
    training = commands.add_parser("run-training", help="run one round of a training by id")
    training.add_argument("training_id")
    training.add_argument("round", type=int)
    environment = commands.add_parser("build-environment", help="build one environment of dependencies")
    environment.add_argument("digest")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, launch: Launch = spawn_runner) -> int:
    """Run the job named on the command line; returns the process exit code. ``launch`` starts the
    algorithm's process (a fresh interpreter; the local stack forks it from its warm zygote)."""
    args = _parse(argv)
    if args.command == "build-environment":
        # No algorithm runs, so no sandbox: pip does, in a process of its own (gpu_worker.envs).
        from gpu_worker.envs import main as build_environment

        return build_environment(["build", args.digest])
    kind = "execution" if args.command == "run-execution" else "training"
    preload = [name for name in PRELOAD if importlib.util.find_spec(name) is not None]
    with _ending_on_sigterm(), temporary_job_folder(kind, runner_owner()) as folder:
        # First, so its interpreter starts (and imports torch) while this one imports the worker.
        process, channel = launch_runner(folder, launch, preload)
        # Only now the worker's own heavy imports (torch, boto3): the algorithm's process starts meanwhile.
        from gpu_worker.sandbox.host import Sandbox
        from gpu_worker.sandbox.protocol import Channel

        sandbox = Sandbox(folder, process, Channel(channel))
        try:
            return _run(args, sandbox)
        finally:
            sandbox.close()


class _TerminatedError(BaseException):
    """SIGTERM arrived (Batch's TerminateJob): not an Exception, so nothing on the way catches it."""


@contextmanager
def _ending_on_sigterm() -> Iterator[None]:
    """On SIGTERM, unwind the job (its algorithm's process is killed and its folder removed, which matters
    where the host outlives the job: the local stack), then end by the signal as before."""

    def terminate(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001  # a signal handler's
        raise _TerminatedError

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except _TerminatedError:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)  # ends the process here, by the signal
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, sandbox: Sandbox) -> int:
    from stratus.errors import StratusError
    from stratus.observability import logger
    from stratus.settings import get_settings
    from stratus.stores import build_stores

    from gpu_worker.jobs import run_execution, run_training

    settings = get_settings()
    stores = build_stores(settings)
    job_id = args.execution_id if args.command == "run-execution" else args.training_id
    logger.append_keys(job_id=job_id)
    try:
        if args.command == "run-execution":
            status = run_execution(args.execution_id, stores, settings, sandbox).status
        else:
            status = run_training(args.training_id, args.round, stores, settings, sandbox).status
    except StratusError as exc:
        logger.error("job could not run", extra={"code": exc.code, "detail": exc.detail})
        print(f"{args.command} {job_id}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILED
    logger.info("job finished", extra={"status": status.value})
    return EXIT_CODES.get(status.value, EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(main())
