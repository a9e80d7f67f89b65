"""Authors' own tests: Compox's modules through the kit, a Runner's hooks run on a LocalContext."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from stratus.algorithms import load_runner, unload_runner
from stratus.algorithms.runtime import BaseRunner, GenericSchema

from gpu_worker.kit import LocalContext, compox

from .conftest import read_h5, write_h5

AUTHOR_TESTS = """\
from pathlib import Path

import numpy as np
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema

from gpu_worker.kit import LocalContext
from Runner import Runner

HERE = Path(__file__).parent


def test_inference_scales(tmp_path):
    runner = Runner()
    runner.attach(LocalContext(HERE, [], tmp_path))

    assert [a.tolist() for a in runner.inference([np.array([1, 2])], {"factor": 3})] == [[3, 6]]


def test_run_reads_and_writes_files(tmp_path):
    import h5py

    with h5py.File(tmp_path / "in.h5", "w") as handle:
        handle["data"] = np.array([1.0, 2.0])
    context = LocalContext(HERE, [tmp_path / "in.h5"], tmp_path / "out")
    runner = Runner()
    runner.attach(context)

    outputs = runner.run({"input_dataset_ids": context.input_ids}, {"factor": 2})

    assert isinstance(runner, BaseRunner) and GenericSchema.__name__ == "GenericSchema"
    with h5py.File(outputs[0], "r") as handle:
        assert handle["data"][()].tolist() == [2.0, 4.0]
    assert context.progress == [1.0]
"""


@pytest.fixture
def installed() -> Iterator[None]:
    compox.install()
    yield
    compox.uninstall()


def run_author_tests(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(folder)]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=240, check=False)


def test_pytest_plugin_lets_author_tests_import_compox_and_run_hooks(package: Callable[..., Path]) -> None:
    folder = package(**{"test_runner.py": AUTHOR_TESTS})

    process = run_author_tests(folder, "-p", "gpu_worker.kit.pytest_plugin")

    assert process.returncode == 0, process.stdout + process.stderr
    assert "2 passed" in process.stdout


def test_install_in_a_conftest_lets_author_tests_import_compox(package: Callable[..., Path]) -> None:
    conftest = "from gpu_worker.kit.compox import install\n\ninstall()\n"
    folder = package(**{"test_runner.py": AUTHOR_TESTS, "conftest.py": conftest})

    process = run_author_tests(folder)

    assert process.returncode == 0, process.stdout + process.stderr


def test_author_tests_cannot_import_compox_without_the_kit(package: Callable[..., Path]) -> None:
    folder = package(**{"test_runner.py": AUTHOR_TESTS})

    process = run_author_tests(folder)

    assert process.returncode != 0
    assert "No module named 'compox'" in process.stdout


@pytest.mark.usefixtures("installed")
def test_install_serves_the_runtime_modules_the_worker_serves() -> None:
    from compox.algorithm_utils import io_schemas
    from compox.algorithm_utils.BaseRunner import BaseRunner as Served

    assert Served is BaseRunner
    assert io_schemas.GenericSchema is GenericSchema
    assert "compox.training.TrainingDataset" in compox.served_modules()


def test_install_refuses_when_a_real_compox_is_importable(tmp_path: Path) -> None:
    (tmp_path / "compox").mkdir()
    (tmp_path / "compox" / "__init__.py").write_text("")
    script = "from gpu_worker.kit import compox\ncompox.install()\n"

    process = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )

    assert process.returncode == 1
    assert "RealCompoxError: a `compox` module is importable in this environment" in process.stderr


def test_local_context_runs_a_package_through_the_worker_loader(
    package: Callable[..., Path], tmp_path: Path
) -> None:
    folder = package()
    source = write_h5(tmp_path / "in.h5", data=np.array([1.0, 5.0]))
    context = LocalContext(folder, [source], tmp_path / "out")
    runner = load_runner(folder, context, "cpu")

    outputs = runner.run({"input_dataset_ids": context.input_ids}, {"factor": 4})

    unload_runner(runner)
    assert outputs == [str(tmp_path / "out" / "output_000.h5")]
    np.testing.assert_array_equal(read_h5(Path(outputs[0]), "data"), [4.0, 20.0])
    assert ("INFO", "Starting execution.") in context.logs
