"""The author kit's command line: `python -m gpu_worker.kit check DIR` and `python -m gpu_worker.kit try
DIR --input f.h5 [-p name=value …]` (the `stratus algorithms check|try` commands run these)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gpu_worker.kit.checks import CheckResult
    from gpu_worker.kit.local import Event
    from gpu_worker.sandbox.host import Outcome

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # argparse's own
# As the worker's: a stopped job is neither success nor failure.
EXIT_STOPPED = 3
STATUSES = {"completed": "COMPLETED", "failed": "FAILED", "stopped": "STOPPED"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gpu_worker.kit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run every deploy-time check on a package folder")
    check.add_argument("package_dir", metavar="DIR", type=Path)
    check.add_argument("--json", action="store_true", help="print a list of {check, ok, detail}")
    trial = commands.add_parser("try", help="run a package folder on local HDF5 files, as the worker would")
    trial.add_argument("package_dir", metavar="DIR", type=Path)
    trial.add_argument("--input", dest="inputs", metavar="FILE", type=Path, action="append", required=True)
    trial.add_argument("-p", "--parameter", dest="assignments", metavar="NAME=VALUE", action="append")
    trial.add_argument("--device", choices=("cpu", "cuda"), help="default: the package's default device")
    trial.add_argument("--out", type=Path, default=Path("outputs"), help="where outputs go (./outputs)")
    trial.add_argument("--json", action="store_true", help="print events and the result as JSON lines")
    trial.add_argument(
        "--environments",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stratus" / "environments",
        help="where declared dependencies are installed, once per set (~/.cache/stratus/environments)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 1 failed, 2 usage, 3 stopped)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.package_dir.is_dir():
        parser.error(f"{args.package_dir} is not a folder")
    if args.command == "check":
        return _check(args)
    for path in args.inputs:
        if not path.is_file():
            parser.error(f"input {path} is not a file")
    return _try(args)


def _check(args: argparse.Namespace) -> int:
    from gpu_worker.kit.checks import check_package, results_as_json

    results = check_package(args.package_dir)
    print(results_as_json(results) if args.json else _table(results))
    return EXIT_OK if all(result.ok for result in results) else EXIT_FAILED


def _table(results: list[CheckResult]) -> str:
    lines = []
    for result in results:
        first, *rest = result.detail.splitlines() or [""]
        lines.append(f"{'ok' if result.ok else 'FAILED':<6}  {result.check:<12}  {first}")
        lines += [f"{'':<22}{line}" for line in rest]
    failed = [result.check for result in results if not result.ok]
    lines.append(f"failed: {', '.join(failed)}" if failed else "all checks passed")
    return "\n".join(lines)


def _try(args: argparse.Namespace) -> int:
    from stratus.errors import StratusError
    from stratus.observability import logger

    from gpu_worker.kit.trial import TrialRequest, environment_of, plan_trial, run_trial

    # The worker's own log lines go to stderr, and only its warnings and errors: stdout is the run's.
    logger.setLevel(logging.WARNING)
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    request = TrialRequest(args.package_dir, args.inputs, args.assignments or (), args.device)
    try:
        package, plan = plan_trial(request)
        # Declared dependencies, installed as the worker gets them (built once per set, then reused).
        environment = environment_of(package, args.environments)
    except StratusError as exc:
        if args.json:
            print(json.dumps({"event": "error", "code": exc.code, "detail": exc.detail}), flush=True)
        else:
            print(f"error: {exc.detail}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    parameters = {"event": "parameters", "parameters": plan.parameters}
    _emit(args.json, parameters, f"parameters {json.dumps(plan.parameters)}")
    if environment is not None:
        _emit(args.json, {"event": "environment", "path": str(environment)}, f"environment {environment}")
    outcome = run_trial(
        package, plan, args.inputs, args.out, lambda event: _report(args.json, event), environment
    )
    _print_outcome(args.json, outcome)
    return {"completed": EXIT_OK, "stopped": EXIT_STOPPED}.get(outcome.status, EXIT_FAILED)


def _print_outcome(as_json: bool, outcome: Outcome) -> None:
    status = STATUSES[outcome.status]
    error = outcome.error.model_dump() if outcome.error else None
    if as_json:
        result = {"event": "result", "status": status, "outputs": list(outcome.output_ids), "error": error}
        print(json.dumps({**result, "traceback": outcome.trace}), flush=True)
        return
    print(status + (f": {error['type']}: {error['message']}" if error else ""), flush=True)
    if outcome.trace:
        print(outcome.trace.rstrip(), flush=True)


def _report(as_json: bool, event: Event) -> None:
    _emit(as_json, event, _describe(event))


def _describe(event: Event) -> str:
    """An event as a line for people."""
    kind = event["event"]
    if kind == "log":
        return f"{event['time']} {event['level']} {event['message']}"
    if kind == "progress":
        return f"progress {float(event['progress']):.0%}"
    if kind == "warning":
        return f"warning: {event['message']}"
    if kind in ("output", "device"):
        return f"{kind} {event['path' if kind == 'output' else 'device']}"
    return str(kind)


def _emit(as_json: bool, event: dict[str, Any], text: str) -> None:
    print(json.dumps(event) if as_json else text, flush=True)


if __name__ == "__main__":
    sys.exit(main())
