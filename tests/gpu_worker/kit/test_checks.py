"""`check`: the server's deploy-time checks on a package folder, each named, the import in a child."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from gpu_worker.kit.checks import CheckResult, check_package

from .conftest import BUILTINS, PYPROJECT, REPOSITORY, RUNNER

TEST_PACKAGES = [
    *sorted(BUILTINS.glob("*/Runner.py")),
    *sorted((REPOSITORY / "tests" / "e2e" / "packages").glob("*/Runner.py")),
    *sorted((REPOSITORY / "tests" / "gpu_worker" / "packages").glob("*/Runner.py")),
]
# Imports a dependency only the environment built at deploy has.
WITH_DEPENDENCY = REPOSITORY / "tests" / "gpu_worker" / "packages" / "with_dependency"
Kit = Callable[..., subprocess.CompletedProcess[str]]
ALL_CHECKS = ["size", "files", "pyproject", "parameters", "dependencies", "syntax", "runner_class", "import"]


def verdicts(results: list[CheckResult]) -> dict[str, bool]:
    return {result.check: result.ok for result in results}


def detail(results: list[CheckResult], check: str) -> str:
    return next(result.detail for result in results if result.check == check)


@pytest.mark.parametrize(
    "runner",
    [path for path in TEST_PACKAGES if path.parent != WITH_DEPENDENCY],
    ids=lambda path: path.parent.name,
)
def test_check_package_passes_builtins_and_test_packages(runner: Path) -> None:
    results = check_package(runner.parent)

    assert verdicts(results) == dict.fromkeys(ALL_CHECKS, True)


def test_check_package_fails_pyproject_that_is_not_toml(package: Callable[..., Path]) -> None:
    folder = package(pyproject="[project\nname = 'x'\n")

    results = check_package(folder)

    assert verdicts(results)["pyproject"] is False
    assert "not valid TOML" in detail(results, "pyproject")
    assert "parameters" not in verdicts(results)


def test_check_package_fails_parameters_with_default_out_of_range(package: Callable[..., Path]) -> None:
    folder = package(pyproject=PYPROJECT.replace("default = 2", "default = 20"))

    results = check_package(folder)

    assert verdicts(results) == {**dict.fromkeys(ALL_CHECKS, True), "parameters": False}
    assert "additional_parameters[0].config.default" in detail(results, "parameters")
    assert "at most 10" in detail(results, "parameters")


def test_check_package_fails_dependencies_that_are_not_requirements(package: Callable[..., Path]) -> None:
    folder = package(
        pyproject=PYPROJECT.replace('version = "1.0.0"', 'version = "1.0.0"\ndependencies = ["scikit image"]')
    )

    results = check_package(folder)

    assert verdicts(results) == {**dict.fromkeys(ALL_CHECKS, True), "dependencies": False}
    assert "'scikit image' is not a PEP 508 requirement" in detail(results, "dependencies")


def test_check_package_names_dependencies_that_need_an_environment(package: Callable[..., Path]) -> None:
    folder = package(
        pyproject=PYPROJECT.replace(
            'version = "1.0.0"', 'version = "1.0.0"\ndependencies = ["numpy", "tifffile>=2024"]'
        )
    )

    results = check_package(folder)

    assert detail(results, "dependencies") == "an environment is built at deploy for: tifffile>=2024"


def test_check_package_fails_import_of_an_undeclared_dependency_with_a_hint() -> None:
    results = check_package(WITH_DEPENDENCY)

    assert verdicts(results) == {**dict.fromkeys(ALL_CHECKS, True), "import": False}
    assert "No module named 'stratus_testdep'" in detail(results, "import")
    assert "pip install 'stratus-testdep==1.0'" in detail(results, "import")


def test_check_package_fails_pyproject_with_bad_version(package: Callable[..., Path]) -> None:
    folder = package(pyproject=PYPROJECT.replace('version = "1.0.0"', 'version = "one"'))

    results = check_package(folder)

    assert verdicts(results)["pyproject"] is False
    assert "project.version" in detail(results, "pyproject")


def test_check_package_fails_runner_class_when_missing(package: Callable[..., Path]) -> None:
    folder = package(runner=RUNNER.replace("class Runner(", "class Algorithm("))

    results = check_package(folder)

    assert verdicts(results)["runner_class"] is False
    assert "class Runner" in detail(results, "runner_class")
    assert "import" not in verdicts(results)


def test_check_package_fails_syntax_naming_file_and_line(package: Callable[..., Path]) -> None:
    folder = package(**{"helpers/tools.py": "def broken(:\n    pass\n"})

    results = check_package(folder)

    assert verdicts(results)["syntax"] is False
    assert "helpers/tools.py" in detail(results, "syntax")
    assert "line 1" in detail(results, "syntax")


def test_check_package_fails_import_when_runner_raises(package: Callable[..., Path]) -> None:
    folder = package(
        runner="import helpers.setup\n" + RUNNER, **{"helpers/setup.py": "raise OSError('no GPU here')\n"}
    )

    results = check_package(folder)

    assert verdicts(results) == {**dict.fromkeys(ALL_CHECKS, True), "import": False}
    assert "OSError: no GPU here" in detail(results, "import")
    assert 'File "helpers/setup.py", line 1' in detail(results, "import")


def test_check_package_fails_import_of_runner_not_a_base_runner(package: Callable[..., Path]) -> None:
    folder = package(runner="class Runner:\n    pass\n")

    results = check_package(folder)

    assert verdicts(results)["import"] is False
    assert "class Runner(BaseRunner)" in detail(results, "import")


def test_check_package_fails_import_that_crashes_the_process(package: Callable[..., Path]) -> None:
    folder = package(runner="import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n" + RUNNER)

    results = check_package(folder)

    assert verdicts(results)["import"] is False
    assert "killed by SIGSEGV" in detail(results, "import")


def test_check_package_fails_import_of_a_missing_module(package: Callable[..., Path]) -> None:
    folder = package(runner="import not_a_module_anywhere\n" + RUNNER)

    results = check_package(folder)

    assert "ModuleNotFoundError" in detail(results, "import")


def test_check_package_fails_files_without_runner(package: Callable[..., Path]) -> None:
    folder = package()
    (folder / "Runner.py").unlink()

    results = check_package(folder)

    assert verdicts(results) == {"size": True, "files": False}
    assert "no Runner.py" in detail(results, "files")


def test_check_package_fails_size_over_the_api_limit(package: Callable[..., Path]) -> None:
    folder = package()
    (folder / "files").mkdir()
    (folder / "files" / "weights.bin").write_bytes(os.urandom(5 * 1024 * 1024))

    results = check_package(folder)

    assert verdicts(results) == {"size": False}
    assert "the limit is" in detail(results, "size")


def test_check_cli_prints_json_and_exits_1_on_a_failed_check(package: Callable[..., Path], kit: Kit) -> None:
    folder = package(runner=RUNNER.replace("class Runner(", "class Algorithm("))

    process = kit("check", folder, "--json")

    assert process.returncode == 1
    listed = json.loads(process.stdout)
    assert all(set(item) == {"check", "ok", "detail"} for item in listed)
    assert [item["check"] for item in listed if not item["ok"]] == ["runner_class"]


def test_check_cli_prints_each_check_and_exits_0_on_a_builtin(kit: Kit) -> None:
    process = kit("check", BUILTINS / "threshold")

    assert process.returncode == 0
    for check in ALL_CHECKS:
        assert f"ok      {check}" in process.stdout
    assert "all checks passed" in process.stdout


def test_check_cli_exits_2_for_a_folder_that_does_not_exist(tmp_path: Path, kit: Kit) -> None:
    process = kit("check", tmp_path / "nothing")

    assert process.returncode == 2
    assert "is not a folder" in process.stderr
