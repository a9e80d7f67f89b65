"""run_execution: one execution, from its record to a final status (the worker's one entry point)."""

from __future__ import annotations

import tempfile
import traceback
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from stratus.algorithms import (
    AlgorithmConfig,
    PackageLimits,
    StopRequested,
    load_runner,
    read_package,
    unload_runner,
    validate_parameters,
)
from stratus.errors import IllegalTransitionError, InvalidInputError, NotFoundError
from stratus.models.executions import ExecutionError, ExecutionStatus, is_terminal
from stratus.observability import logger
from stratus.services.algorithms import asset_key

from gpu_worker.compute.device import resolve_device
from gpu_worker.context import ExecutionContext

if TYPE_CHECKING:
    from collections.abc import Callable

    from stratus.algorithms import BaseRunner
    from stratus.models.algorithms import AlgorithmVersionRecord
    from stratus.models.executions import ExecutionRecord
    from stratus.settings import Settings
    from stratus.stores import Stores


def run_execution(execution_id: str, stores: Stores, settings: Settings) -> ExecutionRecord:
    """Run one execution to COMPLETED, FAILED or STOPPED and return its final record.

    A record that is already final is returned as it is (a retried job). Raises NotFoundError (unknown
    or expired id) and IllegalTransitionError (RUNNING: another attempt owns it); everything that goes
    wrong once the job has the record ends it FAILED instead, with the error and the traceback.
    """
    execution = stores.executions.get(execution_id)
    if is_terminal(execution.status):
        return execution
    if execution.status is ExecutionStatus.RUNNING:
        raise IllegalTransitionError(f"execution {execution_id} is already RUNNING in another attempt")
    if execution.status is ExecutionStatus.PENDING:
        # The state machine marks STARTED first on AWS; run directly, the worker does it.
        execution = stores.executions.mark_started(execution_id)
    with tempfile.TemporaryDirectory(prefix="stratus-execution-") as scratch:
        return _run_started(execution, Path(scratch), stores, settings)


def _run_started(
    execution: ExecutionRecord, package_dir: Path, stores: Stores, settings: Settings
) -> ExecutionRecord:
    execution_id = execution.execution_id
    context: ExecutionContext | None = None
    runner: BaseRunner | None = None
    try:
        version = _resolve_version(execution, stores)
        config = AlgorithmConfig.model_validate(version.metadata)
        args = validate_parameters(config.additional_parameters, execution.additional_parameters)
        device = _resolve_device(config, execution.execution_device_override)
        _stage_package(version, execution.checkpoint_id, package_dir, stores)
        context = ExecutionContext(execution, stores, settings, package_dir, version.assets, device)
        runner = load_runner(package_dir, context, device)
        output_ids = runner.run({"input_dataset_ids": list(execution.input_dataset_ids)}, args)
        return _settle(execution_id, stores, lambda: context.finish(output_ids))
    except StopRequested:
        if context is not None:
            context.flush()
        return _settle(execution_id, stores, lambda: stores.executions.stop(execution_id))
    except Exception as exc:
        # Not swallowed: the record carries the error and traceback, and the exit code says FAILED.
        logger.exception("execution failed", extra={"execution_id": execution_id})
        if context is not None:
            context.flush()
        error = ExecutionError(type=type(exc).__name__, message=str(exc) or type(exc).__name__)
        trace = "".join(traceback.format_exception(exc))
        return _settle(execution_id, stores, lambda: stores.executions.fail(execution_id, error, trace))
    finally:
        if runner is not None:
            unload_runner(runner)


def _settle(execution_id: str, stores: Stores, write: Callable[[], ExecutionRecord]) -> ExecutionRecord:
    """Make the final write; when a stop or the state machine ended the record first, that end stands."""
    try:
        return write()
    except IllegalTransitionError:
        current = stores.executions.get(execution_id)
        if is_terminal(current.status):
            return current
        # Only a runner that skipped the RUNNING mark can get here: never leave a record unfinished.
        error = ExecutionError(
            type="IllegalTransitionError", message=f"the runner ended while {current.status.value}"
        )
        return stores.executions.fail(execution_id, error)


def _resolve_version(execution: ExecutionRecord, stores: Stores) -> AlgorithmVersionRecord:
    """The algorithm version to run: the one asked for, else the latest. Raises NotFoundError."""
    minor = execution.algorithm_minor_version
    return stores.algorithms.get_version_by_id(execution.algorithm_id, int(minor) if minor else None)


def _resolve_device(config: AlgorithmConfig, override: str | None) -> str:
    """`cuda` when present, supported and not refused by the override, else `cpu`.

    Raises InvalidInputError.
    """
    requested = override or config.default_device or None
    try:
        return str(resolve_device(list(config.supported_devices), requested))
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc


def _stage_package(
    version: AlgorithmVersionRecord, checkpoint_id: str | None, target: Path, stores: Stores
) -> None:
    """Write the version's code and assets under ``target``. Raises NotFoundError, InvalidInputError."""
    if checkpoint_id is not None:
        # Checkpoints arrive with training; until then no id can name one.
        raise NotFoundError(f"checkpoint {checkpoint_id} not found")
    package = read_package(stores.objects.get(version.code_key), PackageLimits())
    files = dict(package.code_files)
    files.update({path: stores.objects.get(asset_key(digest)) for path, digest in version.assets.items()})
    root = target.resolve()
    for path, content in files.items():
        destination = root.joinpath(*PurePosixPath(path).parts).resolve()
        # read_package rejects unsafe code paths; asset paths come from the record, so check them too.
        if not destination.is_relative_to(root):
            raise InvalidInputError(f"unsafe path in the algorithm package: {path!r}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
