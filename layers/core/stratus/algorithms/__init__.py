"""Compox algorithm packages: pyproject config and parameters, package zips, the runner runtime, loading."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from stratus.algorithms.package import (
    AlgorithmPackage,
    PackageLimits,
    build_zip,
    check_python_sources,
    check_required_files,
    check_runner_class,
    extract_files,
    package_from_folder,
    parse_files,
    read_package,
)

if TYPE_CHECKING:
    from stratus.algorithms.loader import import_runner, load_runner, unload_runner
    from stratus.algorithms.runtime import BaseRunner, RunnerContext, StopRequested

# The runner runtime imports h5py and numpy (~100 ms), which the API (configs and package zips only)
# never needs: these names are imported on first use (PEP 562), off the API Lambda's cold start.
_LAZY_MODULES = {
    "import_runner": "stratus.algorithms.loader",
    "load_runner": "stratus.algorithms.loader",
    "unload_runner": "stratus.algorithms.loader",
    "BaseRunner": "stratus.algorithms.runtime",
    "RunnerContext": "stratus.algorithms.runtime",
    "StopRequested": "stratus.algorithms.runtime",
}

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
    "check_python_sources",
    "check_required_files",
    "check_runner_class",
    "extract_files",
    "import_runner",
    "load_runner",
    "package_from_folder",
    "parameter_schema",
    "parse_files",
    "parse_pyproject",
    "read_package",
    "unload_runner",
    "validate_parameters",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return getattr(importlib.import_module(_LAZY_MODULES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
