"""`try`: a package run on local HDF5 files in the worker's sandbox, parameters read as the server would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from stratus.algorithms import parse_pyproject
from stratus.errors import InvalidInputError

from gpu_worker.kit.parameters import parse_assignments
from gpu_worker.kit.trial import TrialRequest, plan_trial
from tests.gpu_worker.wheels import TEST_VALUE, make_wheel

from .conftest import PYPROJECT, THRESHOLD, read_h5, write_h5

WITH_DEPENDENCY = Path(__file__).resolve().parents[1] / "packages" / "with_dependency"

Kit = Callable[..., subprocess.CompletedProcess[str]]
LIST_PYPROJECT = PYPROJECT.replace(
    "},\n]\n",
    '},\n  { name = "sizes", config = { type = "int_list" } },\n'
    '  { name = "smooth", config = { type = "bool", default = false } },\n]\n',
)


def events(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_try_cli_runs_threshold_and_writes_its_output(tmp_path: Path, kit: Kit) -> None:
    data = np.array([[0.1, 0.7], [0.4, 0.9]], dtype=np.float32)
    source = write_h5(tmp_path / "input.h5", data=data)

    process = kit("try", THRESHOLD, "--input", source, "-p", "threshold=0.5", "--out", "results")

    assert process.returncode == 0, process.stdout + process.stderr
    np.testing.assert_array_equal(read_h5(tmp_path / "results" / "output_000.h5", "data"), [[0, 1], [0, 1]])
    assert "INFO Starting execution." in process.stdout
    assert "progress 100%" in process.stdout
    assert process.stdout.rstrip().endswith("COMPLETED")


def test_try_cli_json_reports_events_and_result(tmp_path: Path, kit: Kit) -> None:
    first = write_h5(tmp_path / "a.h5", data=np.arange(4, dtype=np.float32))
    second = write_h5(tmp_path / "b.h5", data=np.arange(4, dtype=np.float32) * -1)

    process = kit(
        "try", THRESHOLD, "--input", first, "--input", second, "-p", "operation=normalize", "--json"
    )

    reported = events(process.stdout)
    result = reported[-1]
    assert process.returncode == 0
    assert result["status"] == "COMPLETED"
    assert result["outputs"] == [
        str(Path("outputs") / "output_000.h5"),
        str(Path("outputs") / "output_001.h5"),
    ]
    np.testing.assert_allclose(read_h5(tmp_path / "outputs" / "output_001.h5", "data"), [1, 2 / 3, 1 / 3, 0])
    progress = [event["progress"] for event in reported if event["event"] == "progress"]
    assert progress == sorted(progress)
    assert progress[-1] == 1.0


def test_try_cli_refuses_a_bad_parameter_naming_it(tmp_path: Path, kit: Kit) -> None:
    source = write_h5(tmp_path / "input.h5", data=np.zeros(3))

    process = kit("try", THRESHOLD, "--input", source, "-p", "threshold=high")

    assert process.returncode == 1
    assert "additional parameter 'threshold' (float): 'high' is not a number" in process.stderr
    assert not (tmp_path / "outputs").exists()


def test_try_cli_refuses_an_unknown_parameter_listing_the_known(tmp_path: Path, kit: Kit) -> None:
    source = write_h5(tmp_path / "input.h5", data=np.zeros(3))

    process = kit("try", THRESHOLD, "--input", source, "-p", "cutoff=1", "--json")

    assert process.returncode == 1
    assert events(process.stdout) == [
        {
            "event": "error",
            "code": "invalid_input",
            "detail": "unknown additional parameter 'cutoff'; known: ['operation', 'threshold']",
        }
    ]


def test_try_cli_fails_an_input_without_the_dataset_naming_the_key(tmp_path: Path, kit: Kit) -> None:
    source = write_h5(tmp_path / "image.h5", image=np.zeros((2, 2)))

    process = kit("try", THRESHOLD, "--input", source, "--json")

    result = events(process.stdout)[-1]
    assert process.returncode == 1
    assert result["status"] == "FAILED"
    assert "'data'" in result["error"]["message"]
    assert 'File "Runner.py"' in result["traceback"]


def test_try_cli_exits_2_for_an_input_that_does_not_exist(tmp_path: Path, kit: Kit) -> None:
    process = kit("try", THRESHOLD, "--input", tmp_path / "missing.h5")

    assert process.returncode == 2
    assert "is not a file" in process.stderr


def test_plan_trial_refuses_an_input_that_is_not_hdf5(tmp_path: Path) -> None:
    source = tmp_path / "notes.h5"
    source.write_text("not HDF5")

    with pytest.raises(InvalidInputError, match="is not an HDF5 file"):
        plan_trial(TrialRequest(THRESHOLD, [source]))


def test_plan_trial_refuses_cuda_for_a_cpu_only_package(tmp_path: Path) -> None:
    source = write_h5(tmp_path / "input.h5", data=np.zeros(3))

    with pytest.raises(InvalidInputError, match="does not support device 'cuda'"):
        plan_trial(TrialRequest(THRESHOLD, [source], device="cuda"))


def test_plan_trial_fills_defaults_and_plans_the_package(tmp_path: Path) -> None:
    source = write_h5(tmp_path / "input.h5", data=np.zeros(3))

    _, plan = plan_trial(TrialRequest(THRESHOLD, [source]))

    assert plan.parameters == {"operation": "threshold", "threshold": 0.5}
    assert (plan.algorithm_name, plan.algorithm_major, plan.device.kind) == ("threshold", 1, "cpu")


def test_parse_assignments_reads_values_by_declared_type() -> None:
    parameters = parse_pyproject(LIST_PYPROJECT.encode()).tool.compox.additional_parameters

    values = parse_assignments(parameters, ["factor=3", "sizes=1,2,3", "smooth=true"])

    assert values == {"factor": 3, "sizes": [1, 2, 3], "smooth": True}


def test_parse_assignments_refuses_a_value_out_of_range() -> None:
    parameters = parse_pyproject(LIST_PYPROJECT.encode()).tool.compox.additional_parameters

    with pytest.raises(
        InvalidInputError, match=r"additional parameter 'factor' \(int_range\): must be at most 10"
    ):
        parse_assignments(parameters, ["factor=11"])


def test_parse_assignments_refuses_text_without_equals() -> None:
    parameters = parse_pyproject(LIST_PYPROJECT.encode()).tool.compox.additional_parameters

    with pytest.raises(InvalidInputError, match="is not name=value"):
        parse_assignments(parameters, ["factor"])


def _try_with_wheels(
    tmp_path: Path, wheels: Path, package: Path, source: Path
) -> subprocess.CompletedProcess[str]:
    """`try` with pip limited to ``wheels`` (no network) and an environment cache of the test's own."""
    command = [
        sys.executable, "-m", "gpu_worker.kit", "try", str(package), "--input", str(source),
        "--environments", str(tmp_path / "environments"), "--out", str(tmp_path / "results"),
    ]  # fmt: skip
    environment = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    return subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=240, check=False
    )


def test_try_installs_declared_dependencies_as_the_worker_gets_them(tmp_path: Path) -> None:
    wheels = make_wheel(tmp_path / "wheels").parent
    source = write_h5(tmp_path / "input.h5", data=np.zeros(4, dtype=np.float32))

    first = _try_with_wheels(tmp_path, wheels, WITH_DEPENDENCY, source)
    again = _try_with_wheels(tmp_path, wheels, WITH_DEPENDENCY, source)

    assert first.returncode == 0, first.stdout + first.stderr
    output = read_h5(tmp_path / "results" / "output_000.h5", "data")
    assert bytes(np.asarray(output, dtype=np.uint8)).decode() == TEST_VALUE
    # Built once for the dependency set: the second run reuses the same folder.
    built = [path.name for path in (tmp_path / "environments").iterdir()]
    assert len(built) == 1 and f"environment {tmp_path / 'environments' / built[0]}" in again.stdout
    assert again.returncode == 0, again.stdout + again.stderr


def test_try_refuses_dependencies_pip_cannot_install_with_its_message(tmp_path: Path) -> None:
    package = tmp_path / "package"
    shutil.copytree(WITH_DEPENDENCY, package)
    pyproject = package / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("stratus-testdep==1.0", "stratus-testdep==9.9"))
    wheels = make_wheel(tmp_path / "wheels").parent
    source = write_h5(tmp_path / "input.h5", data=np.zeros(4, dtype=np.float32))

    process = _try_with_wheels(tmp_path, wheels, package, source)

    assert process.returncode == 1
    assert "stratus-testdep==9.9" in process.stderr and "No matching distribution" in process.stderr
