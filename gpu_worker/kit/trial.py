"""`try`: run a package folder on local HDF5 files in the worker's sandbox, with the worker's runner
protocol; only the job's context differs (LocalContext: local files instead of S3 and DynamoDB)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

import h5py
from stratus.algorithms import extract_files, package_from_folder, parse_files
from stratus.algorithms.requirements import declared_requirements, environment_requirements
from stratus.devices import decide_device
from stratus.errors import InvalidInputError
from stratus.models.jobs import JobPlan
from stratus.services.algorithms import package_limits
from stratus.settings import Settings

from gpu_worker.compute.device import runtime_device
from gpu_worker.envs import build_local
from gpu_worker.jobs import job_spec
from gpu_worker.kit.local import Event, LocalContext
from gpu_worker.kit.parameters import parse_assignments
from gpu_worker.sandbox.host import Outcome, failed, open_sandbox
from gpu_worker.sandbox.service import RunnerService

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from stratus.algorithms import AlgorithmPackage

    from gpu_worker.context import JobContext

# The plan's algorithm fields for a package that was never deployed.
LOCAL = "local"


@dataclass(frozen=True)
class TrialRequest:
    """What `try` was asked: a package folder, input files, `name=value` parameters, a device."""

    package_dir: Path
    inputs: Sequence[Path]
    assignments: Sequence[str] = ()
    device: str | None = None


def plan_trial(request: TrialRequest) -> tuple[AlgorithmPackage, JobPlan]:
    """Read the package and decide the job as the API would (parameters, device). Raises
    InvalidInputError, PayloadTooLargeError (the package does not deploy; a bad parameter, device or
    input)."""
    files = extract_files(
        package_from_folder(request.package_dir), package_limits(Settings.model_construct())
    )
    package = parse_files(files)
    for path in request.inputs:
        if not h5py.is_hdf5(path):
            raise InvalidInputError(f"input {str(path)!r} is not an HDF5 file")
    config = package.config
    plan = JobPlan(
        algorithm_id=LOCAL,
        algorithm_owner=LOCAL,
        algorithm_name=package.name,
        algorithm_major=package.major_version,
        algorithm_minor=package.minor_version,
        code_key=LOCAL,
        assets=package.asset_hashes,
        parameters=parse_assignments(config.additional_parameters, request.assignments),
        device=decide_device(config.supported_devices, config.default_device, request.device),
    )
    return package, plan


def environment_of(package: AlgorithmPackage, cache: Path) -> Path | None:
    """The package's declared dependencies installed as the worker gets them (what this interpreter
    lacks, built once per dependency set into ``cache``), or None when it declares none to install.
    Raises EnvironmentFailedError with pip's message."""
    requirements = environment_requirements(declared_requirements(package.code_files))
    return build_local(requirements, cache) if requirements else None


def run_trial(
    package: AlgorithmPackage,
    plan: JobPlan,
    inputs: Sequence[Path],
    out_dir: Path,
    report: Callable[[Event], None],
    environment: Path | None = None,
) -> Outcome:
    """Run the planned execution in a sandbox of its own; outputs are written to ``out_dir``, events
    (logs, progress, outputs) reported as they come. Returns how it ended, output ids being paths."""
    with open_sandbox("execution") as sandbox:
        _stage(package, sandbox.folder.package)
        if environment is not None:
            # A copy in the job's folder, as the worker stages one: the sandbox user reads it there.
            shutil.copytree(environment, sandbox.folder.environment, dirs_exist_ok=True)
            plan = plan.model_copy(update={"environment": environment.name})
        device = str(runtime_device(plan.device))
        report({"event": "device", "device": device})
        context = LocalContext(sandbox.folder.package, inputs, out_dir, plan.assets, report)
        job = {"kind": "execution", "input_ids": context.input_ids}
        # LocalContext answers every call RunnerService makes of a JobContext (its local-files twin).
        service = RunnerService(
            cast("JobContext[Any]", context), sandbox.folder, job_spec(sandbox.folder, job, plan, device)
        )
        service.prefetch(context.input_ids)
        try:
            outcome = sandbox.serve(service)
        finally:
            service.close()
    if outcome.status == "completed" and not set(outcome.output_ids) <= set(context.output_ids):
        return failed("InvalidInputError", "postprocess returned files this job did not write")
    return outcome


def _stage(package: AlgorithmPackage, target: Path) -> None:
    """Write the package's code and assets under ``target`` (their paths were checked when it was read)."""
    for path, content in {**package.code_files, **package.assets}.items():
        destination = target.joinpath(*PurePosixPath(path).parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
