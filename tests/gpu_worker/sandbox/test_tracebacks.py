"""Tracebacks as clients see them: the package's frames by package path, nothing of the server's."""

from __future__ import annotations

import sys
from pathlib import Path

from gpu_worker.sandbox.tracebacks import package_traceback


def _raise_from_package(package: Path) -> BaseException:
    (package / "helpers").mkdir(parents=True)
    (package / "helpers" / "maths.py").write_text("def divide():\n    return 1 / 0\n")
    source = (
        "from helpers.maths import divide\n\n"
        "def run():\n"
        "    try:\n"
        "        divide()\n"
        "    except ZeroDivisionError as exc:\n"
        "        raise ValueError('bad input') from exc\n"
    )
    (package / "Runner.py").write_text(source)
    sys.path.insert(0, str(package))
    try:
        namespace: dict[str, object] = {}
        exec(compile(source, str(package / "Runner.py"), "exec"), namespace)
        namespace["run"]()  # type: ignore[operator]
    except ValueError as exc:
        return exc
    finally:
        sys.path.remove(str(package))
        sys.modules.pop("helpers.maths", None)
        sys.modules.pop("helpers", None)
    raise AssertionError("the package did not raise")


def test_package_traceback_keeps_package_frames_by_package_path(tmp_path: Path) -> None:
    error = _raise_from_package(tmp_path / "package")

    text = package_traceback(error, tmp_path / "package")

    assert 'File "Runner.py", line 7, in run' in text
    assert 'File "helpers/maths.py", line 2, in divide' in text
    assert "ZeroDivisionError: division by zero" in text
    assert text.rstrip().endswith("ValueError: bad input")


def test_package_traceback_drops_the_servers_frames(tmp_path: Path) -> None:
    error = _raise_from_package(tmp_path / "package")

    text = package_traceback(error, tmp_path / "package")

    assert __file__ not in text
    assert str(tmp_path) not in text


def test_package_traceback_of_an_error_outside_the_package_is_just_the_error(tmp_path: Path) -> None:
    try:
        int("x")
    except ValueError as exc:
        text = package_traceback(exc, tmp_path)

    assert text == "ValueError: invalid literal for int() with base 10: 'x'\n"
