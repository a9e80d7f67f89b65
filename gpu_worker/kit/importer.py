"""The import check's child process: `python -m gpu_worker.kit.importer PACKAGE_DIR REPORT`; imports
Runner.py with the worker's loader and writes {ok, detail} as JSON to REPORT."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stratus.algorithms import import_runner

from gpu_worker.sandbox.tracebacks import package_traceback


def main(argv: list[str]) -> int:
    """Import the package's Runner and write the verdict; returns the exit status (1: it failed)."""
    package_dir, report = Path(argv[0]), Path(argv[1])
    try:
        runner_class = import_runner(package_dir)
    except BaseException as exc:  # noqa: BLE001  # SystemExit, KeyboardInterrupt too: the package's own doing
        trace = package_traceback(exc, package_dir).rstrip()
        verdict = {
            "ok": False,
            "detail": f"importing Runner.py raised {type(exc).__name__}: {exc}\n{trace}",
            "missing": exc.name if isinstance(exc, ModuleNotFoundError) else None,
        }
    else:
        detail = f"Runner.py imports; its Runner is a {runner_class.__mro__[1].__name__}"
        verdict = {"ok": True, "detail": detail}
    report.write_text(json.dumps(verdict))
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
