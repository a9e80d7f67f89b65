"""run_execution and run_training: one job, from its record and plan to a final status (or a finished
round), the worker's entry points."""

from __future__ import annotations

import tempfile
import traceback
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

from stratus.algorithms import PackageLimits, StopRequested, load_runner, read_package, unload_runner
from stratus.errors import IllegalTransitionError, InvalidInputError
from stratus.models.jobs import JobError, JobRecord, JobStatus, is_terminal
from stratus.models.trainings import RoundStatus
from stratus.observability import logger
from stratus.stores.layout import asset_key

from gpu_worker.compute.device import runtime_device
from gpu_worker.context import ExecutionContext
from gpu_worker.training_context import TrainingContext

if TYPE_CHECKING:
    from collections.abc import Callable

    from stratus.algorithms import BaseRunner
    from stratus.models.executions import ExecutionRecord
    from stratus.models.jobs import JobPlan
    from stratus.models.trainings import TrainingRecord
    from stratus.settings import Settings
    from stratus.stores import Stores
    from stratus.stores.jobs import JobStore

J = TypeVar("J", bound=JobRecord)


def run_execution(execution_id: str, stores: Stores, settings: Settings) -> ExecutionRecord:
    """Run one execution to COMPLETED, FAILED or STOPPED and return its final record.

    A record that is already final is returned as it is (a retried job). Raises NotFoundError (unknown
    or expired id) and IllegalTransitionError (RUNNING: another attempt owns it); everything that goes
    wrong once the job has the record ends it FAILED instead, with the error and the traceback.
    """
    execution = stores.executions.get(execution_id)
    if is_terminal(execution.status):
        return execution
    if execution.status is JobStatus.RUNNING:
        raise IllegalTransitionError(f"execution {execution_id} is already RUNNING in another attempt")
    if execution.status is JobStatus.PENDING:
        # The state machine marks STARTED first on AWS; run directly, the worker does it.
        execution = stores.executions.mark_started(execution_id)
    with tempfile.TemporaryDirectory(prefix="stratus-execution-") as scratch:
        package_dir = Path(scratch) / "package"
        device = str(runtime_device(execution.plan.device))
        context = ExecutionContext(execution, stores, settings, package_dir, device)

        def work(runner: BaseRunner) -> ExecutionRecord:
            output_ids = runner.run(
                {"input_dataset_ids": list(execution.input_dataset_ids)}, execution.plan.parameters
            )
            return context.finish(output_ids)

        return _run(execution, stores.executions, context, work, stores)


def run_training(training_id: str, round_index: int, stores: Stores, settings: Settings) -> TrainingRecord:
    """Run round ``round_index`` of a training: train from the best checkpoint so far on the round's
    samples. Returns the record; the round is COMPLETED in it unless the training ended (FAILED,
    STOPPED). The state machine's SelectBest and Finalize move the chain on and end it COMPLETED.

    Raises NotFoundError; IllegalTransitionError (the round is RUNNING in another attempt).
    """
    training = stores.trainings.get(training_id)
    if is_terminal(training.status) or round_index >= len(training.rounds):
        return training
    round_status = training.rounds[round_index].status
    if round_status is RoundStatus.COMPLETED:
        return training  # a retried job: the round's checkpoints are saved already
    if round_status is RoundStatus.RUNNING:
        raise IllegalTransitionError(
            f"round {round_index} of training {training_id} is RUNNING in another attempt"
        )
    if training.status is JobStatus.PENDING:
        training = stores.trainings.mark_started(training_id)
    with tempfile.TemporaryDirectory(prefix="stratus-training-") as scratch:
        package_dir = Path(scratch) / "package"
        device = str(runtime_device(training.plan.device))
        context = TrainingContext(training, round_index, stores, settings, package_dir, device)

        def work(runner: BaseRunner) -> TrainingRecord:
            runner.run_training(list(context.round.sample_ids), training.plan.parameters)
            return context.finish_round()

        return _run(training, stores.trainings, context, work, stores, context.start_assets)


def _run(
    record: J,
    store: JobStore[J],
    context: ExecutionContext | TrainingContext,
    work: Callable[[BaseRunner], J],
    stores: Stores,
    assets: dict[str, str] | None = None,
) -> J:
    job_id = str(getattr(record, store.id_field))
    runner: BaseRunner | None = None
    try:
        package_dir = context.package_dir
        _stage_package(record.plan, assets or record.plan.assets, package_dir, stores)
        runner = load_runner(package_dir, context, context.device)
        loaded = runner
        return _settle(job_id, store, lambda: work(loaded))
    except StopRequested:
        context.flush()
        return _settle(job_id, store, lambda: store.stop(job_id, f"{store.job_kind.capitalize()} stopped."))
    except Exception as exc:
        # Not swallowed: the record carries the error and traceback, and the exit code says FAILED.
        logger.exception("job failed", extra={"job_id": job_id})
        context.flush()
        error = JobError(type=type(exc).__name__, message=str(exc) or type(exc).__name__)
        trace = "".join(traceback.format_exception(exc))
        return _settle(job_id, store, lambda: store.fail(job_id, error, trace))
    finally:
        if runner is not None:
            unload_runner(runner)


def _settle(job_id: str, store: JobStore[J], write: Callable[[], J]) -> J:
    """Make the final write; when a stop or the state machine ended the record first, that end stands."""
    try:
        return write()
    except IllegalTransitionError:
        current = store.get(job_id)
        if is_terminal(current.status):
            return current
        # Only a runner that skipped the RUNNING mark can get here: never leave a record unfinished.
        error = JobError(
            type="IllegalTransitionError", message=f"the runner ended while {current.status.value}"
        )
        return store.fail(job_id, error)


def _stage_package(plan: JobPlan, assets: dict[str, str], target: Path, stores: Stores) -> None:
    """Write the planned version's code and ``assets`` under ``target``. Raises NotFoundError,
    InvalidInputError."""
    package = read_package(stores.objects.get(plan.code_key), PackageLimits())
    files = dict(package.code_files)
    files.update({path: stores.objects.get(asset_key(digest)) for path, digest in assets.items()})
    root = target.resolve()
    for path, content in files.items():
        destination = root.joinpath(*PurePosixPath(path).parts).resolve()
        # read_package rejects unsafe code paths; asset paths come from the record, so check them too.
        if not destination.is_relative_to(root):
            raise InvalidInputError(f"unsafe path in the algorithm package: {path!r}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
