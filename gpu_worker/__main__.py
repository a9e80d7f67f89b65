"""The worker's command line: `python -m gpu_worker run-execution <execution_id>` (the Batch entry point)."""

from __future__ import annotations

import argparse
import sys

from stratus.errors import StratusError
from stratus.models.executions import ExecutionStatus
from stratus.observability import logger
from stratus.settings import get_settings
from stratus.stores import build_stores

from gpu_worker.jobs import run_execution

# Batch (and the local shim) judge a job by its exit code: only COMPLETED is success. STOPPED has its
# own code so a Batch retry strategy can tell a stop from a failure; 2 is argparse's usage error.
EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_STOPPED = 3
EXIT_CODES = {
    ExecutionStatus.COMPLETED: EXIT_COMPLETED,
    ExecutionStatus.FAILED: EXIT_FAILED,
    ExecutionStatus.STOPPED: EXIT_STOPPED,
}


def main(argv: list[str] | None = None) -> int:
    """Run the job named on the command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m gpu_worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    execution = commands.add_parser("run-execution", help="run one execution by id")
    execution.add_argument("execution_id")
    args = parser.parse_args(argv)

    settings = get_settings()
    logger.append_keys(execution_id=args.execution_id)
    try:
        record = run_execution(args.execution_id, build_stores(settings), settings)
    except StratusError as exc:
        logger.error("execution could not run", extra={"code": exc.code, "detail": exc.detail})
        print(f"execution {args.execution_id}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILED
    logger.info("execution finished", extra={"status": record.status.value})
    return EXIT_CODES.get(record.status, EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(main())
