"""The worker's command line (the Batch entry point): `python -m gpu_worker run-execution <execution_id>` or
`python -m gpu_worker run-training <training_id> <round>`."""

from __future__ import annotations

import argparse
import sys

from stratus.errors import StratusError
from stratus.models.executions import ExecutionStatus
from stratus.observability import logger
from stratus.settings import get_settings
from stratus.stores import build_stores

from gpu_worker.jobs import run_execution, run_training

# Batch (and the local shim) judge a job by its exit code: only COMPLETED is success. STOPPED has its
# own code so a Batch retry strategy can tell a stop from a failure; 2 is argparse's usage error.
EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_STOPPED = 3
EXIT_CODES = {
    ExecutionStatus.COMPLETED: EXIT_COMPLETED,
    ExecutionStatus.FAILED: EXIT_FAILED,
    ExecutionStatus.STOPPED: EXIT_STOPPED,
    # A training round ends with the training still RUNNING; SelectBest and Finalize end the chain.
    ExecutionStatus.RUNNING: EXIT_COMPLETED,
}


def main(argv: list[str] | None = None) -> int:
    """Run the job named on the command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m gpu_worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    execution = commands.add_parser("run-execution", help="run one execution by id")
    execution.add_argument("execution_id")
    training = commands.add_parser("run-training", help="run one round of a training by id")
    training.add_argument("training_id")
    training.add_argument("round", type=int)
    args = parser.parse_args(argv)

    settings = get_settings()
    stores = build_stores(settings)
    job_id = args.execution_id if args.command == "run-execution" else args.training_id
    logger.append_keys(job_id=job_id)
    try:
        if args.command == "run-execution":
            status = run_execution(args.execution_id, stores, settings).status
        else:
            status = run_training(args.training_id, args.round, stores, settings).status
    except StratusError as exc:
        logger.error("job could not run", extra={"code": exc.code, "detail": exc.detail})
        print(f"{args.command} {job_id}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILED
    logger.info("job finished", extra={"status": status.value})
    return EXIT_CODES.get(status, EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(main())
