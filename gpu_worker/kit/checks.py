"""`check`: every deploy-time check the server runs on a package, run on a package folder, one by one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import ValidationError
from stratus.algorithms import (
    check_python_sources,
    check_required_files,
    check_runner_class,
    extract_files,
    package_from_folder,
    parameter_schema,
    parse_pyproject,
    validate_parameters,
)
from stratus.algorithms.package import PYPROJECT, RUNNER
from stratus.algorithms.requirements import declared_requirements, environment_requirements
from stratus.errors import StratusError
from stratus.services.algorithms import package_limits
from stratus.settings import Settings

from gpu_worker.sandbox.launchers import describe_exit, minimal_environment

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from stratus.algorithms import PyProject

# The [tool.compox] tables whose entries are typed parameters: their errors belong to the parameters check.
PARAMETER_TABLES = frozenset({"additional_parameters", "training_parameters", "benchmark_outputs"})
# How long importing Runner.py may take (torch and friends take seconds on a cold disk).
IMPORT_TIMEOUT_S = 300


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict; `detail` says why it failed, or what it found."""

    check: str
    ok: bool
    detail: str


def check_package(package_dir: Path) -> list[CheckResult]:
    """Run the checks in the order the server does; a check whose input an earlier failure withholds is
    not run (and not listed)."""
    results: list[CheckResult] = []
    try:
        files = _files(package_dir)
    except StratusError as exc:
        return [CheckResult("size", False, exc.detail)]
    results.append(CheckResult("size", True, f"{len(files)} files, within the API's limits"))
    if not _run(results, "files", lambda: _found(files)):
        return results
    pyproject = _pyproject(results, files[PYPROJECT])
    if pyproject is not None:
        _run(results, "parameters", lambda: _parameters(pyproject))
    if any(result.check == "pyproject" and result.ok for result in results):
        _run(results, "dependencies", lambda: _dependencies(files))
    code = {path: content for path, content in files.items() if path.endswith(".py")}
    parses = _run(results, "syntax", lambda: _syntax(code))
    has_runner = _run(results, "runner_class", lambda: _runner_class(files[RUNNER]))
    if parses and has_runner:
        results.append(import_check(package_dir, _needed(files)))
    return results


def _run(results: list[CheckResult], name: str, check: Callable[[], str]) -> bool:
    """Run one check (it returns what it found) and record its verdict; returns whether it passed."""
    try:
        found = check()
    except StratusError as exc:
        results.append(CheckResult(name, False, exc.detail))
        return False
    results.append(CheckResult(name, True, found))
    return True


def _files(package_dir: Path) -> dict[str, bytes]:
    # The zip the API would receive, read with the limits of a package sent in a request body (the API's
    # defaults: the kit does not know a deployment's own settings).
    limits = package_limits(Settings.model_construct())
    return extract_files(package_from_folder(package_dir), limits)


def _found(files: Mapping[str, bytes]) -> str:
    check_required_files(files)
    return f"{PYPROJECT} and {RUNNER} present; {len(files)} files in all"


def _pyproject(results: list[CheckResult], data: bytes) -> PyProject | None:
    """parse_pyproject, its errors told apart: those in parameter tables are the parameters check's."""
    try:
        pyproject = parse_pyproject(data)
    except StratusError as exc:
        cause = exc.__cause__
        if isinstance(cause, ValidationError) and all(_is_parameter_error(e["loc"]) for e in cause.errors()):
            results.append(CheckResult("pyproject", True, "[project] and [tool.compox] are valid"))
            results.append(CheckResult("parameters", False, exc.detail))
        else:
            results.append(CheckResult("pyproject", False, exc.detail))
        return None
    project = pyproject.project
    config = pyproject.tool.compox
    detail = f"{project.name} {project.version}, {config.algorithm_type}, devices {config.supported_devices}"
    results.append(CheckResult("pyproject", True, detail))
    return pyproject


def _is_parameter_error(location: tuple[int | str, ...]) -> bool:
    return location[:2] == ("tool", "compox") and len(location) > 2 and location[2] in PARAMETER_TABLES


def _parameters(pyproject: PyProject) -> str:
    config = pyproject.tool.compox
    # What the API does with them: the schema it publishes, and a request without values (defaults in).
    parameter_schema(config.additional_parameters)
    defaults = validate_parameters(config.additional_parameters, {})
    validate_parameters(config.training_parameters, {}, "training parameter")
    names = [f"{p.name} ({p.config.type})" for p in config.additional_parameters]
    return f"{', '.join(names) or 'no parameters'}; defaults {json.dumps(defaults)}"


def _needed(files: Mapping[str, bytes]) -> list[str]:
    """The declared requirements deploy builds an environment for (none when they do not parse)."""
    try:
        return environment_requirements(declared_requirements(files))
    except StratusError:
        return []


def _dependencies(files: Mapping[str, bytes]) -> str:
    # As deploy: the requirements the worker image does not already satisfy get an environment, built once.
    needed = environment_requirements(declared_requirements(files))
    if not needed:
        return "none beyond what the worker provides"
    return f"an environment is built at deploy for: {', '.join(needed)}"


def _syntax(code: Mapping[str, bytes]) -> str:
    check_python_sources(code)
    return f"{len(code)} Python files parse"


def _runner_class(source: bytes) -> str:
    check_runner_class(source)
    return f"{RUNNER} defines class Runner"


def import_check(package_dir: Path, needed: Sequence[str] = ()) -> CheckResult:
    """Import Runner.py with the worker's loader in a child process, so a crash is a verdict too;
    ``needed``: the requirements deploy builds an environment for (a missing one gets a hint)."""
    with tempfile.TemporaryDirectory(prefix="stratus-kit-import-") as scratch:
        report = Path(scratch) / "report.json"
        command = [
            sys.executable,
            "-s",
            "-m",
            "gpu_worker.kit.importer",
            str(package_dir.resolve()),
            str(report),
        ]
        try:
            # The worker's allow-list applied to this environment: what the algorithm lacks there (AWS_*, the
            # stack's settings), it lacks here.
            process = subprocess.run(  # noqa: S603  # our own module, with this interpreter
                command,
                env={**minimal_environment(os.environ), "HOME": scratch, "TMPDIR": scratch},
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=IMPORT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return CheckResult("import", False, f"importing {RUNNER} took over {IMPORT_TIMEOUT_S} s")
        if not report.is_file():
            output = (process.stderr or process.stdout).strip()[-2000:]
            return CheckResult(
                "import",
                False,
                f"importing {RUNNER}: the process {describe_exit(process.returncode)}\n{output}",
            )
        verdict = json.loads(report.read_text())
    return CheckResult("import", bool(verdict["ok"]), str(verdict["detail"]) + _hint(verdict, needed))


def _hint(verdict: dict[str, Any], needed: Sequence[str]) -> str:
    missing = verdict.get("missing")
    if not missing:
        return ""
    top = canonicalize_name(str(missing).split(".", 1)[0])
    declared = [text for text in needed if canonicalize_name(Requirement(text).name) == top]
    if not declared:
        return ""
    # The worker has it from the environment deploy builds; here it is the author's to install.
    return (
        f"\n{declared[0]!r} is declared in [project].dependencies: the worker gets it from the environment "
        f"built at deploy; install it here (pip install {declared[0]!r}) to check the import locally"
    )


def results_as_json(results: list[CheckResult]) -> str:
    """The results as `--json` prints them: a list of {check, ok, detail}."""
    return json.dumps([asdict(result) for result in results], indent=2)
