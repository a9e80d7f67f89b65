"""Tracebacks as a package's author needs them and as a client may see them: the package's own frames,
named by their path in the package, without the server's files (runtime, site-packages, the worker)."""

from __future__ import annotations

import traceback
from pathlib import Path


def package_traceback(exc: BaseException, package_dir: Path) -> str:
    """``exc`` formatted as Python does, its chained exceptions included, keeping only frames of files
    under ``package_dir``; their paths are given relative to it (`Runner.py`, `helpers/x.py`)."""
    root = package_dir.resolve()
    formatted = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    pending = [formatted]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list(
            [_relative(frame, root) for frame in current.stack if _is_under(frame.filename, root)]
        )
        pending += [chained for chained in (current.__cause__, current.__context__) if chained is not None]
    return "".join(formatted.format())


def _is_under(filename: str, root: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def _relative(frame: traceback.FrameSummary, root: Path) -> traceback.FrameSummary:
    name = Path(frame.filename).resolve().relative_to(root).as_posix()
    return traceback.FrameSummary(name, frame.lineno, frame.name, line=frame.line)
