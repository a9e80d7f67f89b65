"""`stratus algorithms check|try` hand over to the author kit (`python -m gpu_worker.kit`) and return its
exit status; no stack is needed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from stratus_client.cli.algorithms import USAGE_EXIT, run_kit

STRATUS = str(Path(sys.executable).with_name("stratus"))
THRESHOLD = Path(__file__).resolve().parents[2] / "gpu_worker" / "builtins" / "threshold"


def _stratus(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STRATUS, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_algorithms_check_passes_a_valid_package_through(tmp_path: Path) -> None:
    result = _stratus("algorithms", "check", str(THRESHOLD), "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert all(check["ok"] for check in json.loads(result.stdout))


def test_algorithms_check_returns_the_kits_failure(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = _stratus("algorithms", "check", "empty", cwd=tmp_path)

    assert result.returncode == 1


def test_algorithms_check_without_the_worker_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "gpu_worker" else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    status = run_kit("check", [str(THRESHOLD)])

    assert status == USAGE_EXIT
    assert "pip install -e layers/core -e gpu_worker" in capsys.readouterr().err
