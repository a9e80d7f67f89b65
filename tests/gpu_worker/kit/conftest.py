"""Kit fixtures: package folders made in tmp_path, HDF5 inputs, and the kit's command line run as a child."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parents[3]
BUILTINS = REPOSITORY / "gpu_worker" / "builtins"
THRESHOLD = BUILTINS / "threshold"
PYPROJECT = """\
[project]
name = "kit_fixture"
version = "1.0.0"

[tool.compox]
algorithm_type = "Generic"
additional_parameters = [
  { name = "factor", config = { type = "int_range", min = 1, max = 10, step = 1, default = 2 } },
]
"""
RUNNER = """\
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema


class Runner(BaseRunner):
    def preprocess(self, input_data, args=None):
        return [item["data"] for item in self.fetch_data(input_data["input_dataset_ids"], GenericSchema)]

    def inference(self, data, args=None):
        self.set_progress(1.0)
        return [array * args["factor"] for array in data]

    def postprocess(self, data, args=None):
        return self.post_data([{"data": array} for array in data], GenericSchema)
"""


def write_package(root: Path, runner: str = RUNNER, pyproject: str = PYPROJECT, **files: str) -> Path:
    """A package folder under ``root``: Runner.py, pyproject.toml and ``files`` (path → text)."""
    root.mkdir(parents=True, exist_ok=True)
    for path, text in {"Runner.py": runner, "pyproject.toml": pyproject, **files}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def write_h5(path: Path, **datasets: Any) -> Path:
    """An HDF5 file with one top-level dataset per keyword."""
    with h5py.File(path, "w") as handle:
        for name, value in datasets.items():
            handle.create_dataset(name, data=value)
    return path


def read_h5(path: Path, name: str) -> np.ndarray:
    """One dataset of an HDF5 file."""
    with h5py.File(path, "r") as handle:
        return np.asarray(handle[name][()])


@pytest.fixture
def package(tmp_path: Path) -> Callable[..., Path]:
    """``package(runner=…, pyproject=…, **files)``: a package folder in tmp_path."""
    return lambda **parts: write_package(tmp_path / "package", **parts)


@pytest.fixture
def kit(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``kit("check", DIR, "--json")``: `python -m gpu_worker.kit …` run as a child in tmp_path."""

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "gpu_worker.kit", *map(str, args)]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)

    return run
