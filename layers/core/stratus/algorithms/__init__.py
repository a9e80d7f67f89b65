"""Compox algorithm packages: pyproject config and parameters, package zips, the runner runtime, loading."""

from stratus.algorithms.config import (
    AdditionalParameter,
    AlgorithmConfig,
    ParameterConfig,
    ProjectMetadata,
    PyProject,
    parameter_schema,
    parse_pyproject,
    validate_parameters,
)
from stratus.algorithms.loader import load_runner, unload_runner
from stratus.algorithms.package import (
    AlgorithmPackage,
    PackageLimits,
    build_zip,
    package_from_folder,
    parse_files,
    read_package,
)
from stratus.algorithms.runtime import BaseRunner, RunnerContext, StopRequested

__all__ = [
    "AdditionalParameter",
    "AlgorithmConfig",
    "AlgorithmPackage",
    "BaseRunner",
    "PackageLimits",
    "ParameterConfig",
    "ProjectMetadata",
    "PyProject",
    "RunnerContext",
    "StopRequested",
    "build_zip",
    "load_runner",
    "package_from_folder",
    "parameter_schema",
    "parse_files",
    "parse_pyproject",
    "read_package",
    "unload_runner",
    "validate_parameters",
]
