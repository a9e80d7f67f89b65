"""run_execution and run_training: one job, from its record and plan to a final status (or a finished
round), the worker's entry points."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from stratus.algorithms import PackageLimits, read_package
from stratus.errors import IllegalTransitionError, InvalidInputError
from stratus.models.jobs import JobError, JobRecord, JobStatus, is_terminal
from stratus.models.trainings import RoundStatus
from stratus.observability import logger
from stratus.stores.layout import asset_key

from gpu_worker.compute.device import runtime_device
from gpu_worker.context import ExecutionContext
from gpu_worker.envs import stage as stage_environment
from gpu_worker.sandbox.host import Outcome, Sandbox, failed, open_sandbox
from gpu_worker.sandbox.service import RunnerService
from gpu_worker.training_context import TrainingContext

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from stratus.models.executions import ExecutionRecord
    from stratus.models.jobs import JobPlan
    from stratus.models.trainings import TrainingRecord
    from stratus.settings import Settings
    from stratus.stores import Stores
    from stratus.stores.jobs import JobStore

    from gpu_worker.sandbox.folders import JobFolder

J = TypeVar("J", bound=JobRecord)


def run_execution(
    execution_id: str, stores: Stores, settings: Settings, sandbox: Sandbox | None = None
) -> ExecutionRecord:
    """Run one execution to COMPLETED, FAILED or STOPPED and return its final record. The algorithm runs
    in ``sandbox`` (its process, started early by the caller) or in one started here.

    A record that is already final is returned as it is (a retried job). Raises NotFoundError (unknown
    or expired id) and IllegalTransitionError (RUNNING: another attempt owns it); everything that goes
    wrong once the job has the record ends it FAILED instead, with the error (and, for the algorithm's
    own errors, the traceback of its package's frames).
    """
    execution = stores.executions.get(execution_id)
    if is_terminal(execution.status):
        return execution
    if execution.status is JobStatus.RUNNING:
        raise IllegalTransitionError(f"execution {execution_id} is already RUNNING in another attempt")
    if execution.status is JobStatus.PENDING:
        # The state machine marks STARTED first on AWS; run directly, the worker does it.
        execution = stores.executions.mark_started(execution_id)
    with _sandbox("execution", sandbox) as running:
        device = str(runtime_device(execution.plan.device))
        context = ExecutionContext(execution, stores, settings, running.folder.package, device)
        job = {"kind": "execution", "input_ids": list(execution.input_dataset_ids)}
        spec = job_spec(running.folder, job, execution.plan, device)
        service = RunnerService(context, running.folder, spec)
        service.prefetch(list(execution.input_dataset_ids))
        return _run(execution, stores.executions, context, running, service, stores, context.finish)


def run_training(
    training_id: str, round_index: int, stores: Stores, settings: Settings, sandbox: Sandbox | None = None
) -> TrainingRecord:
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
    with _sandbox("training", sandbox) as running:
        device = str(runtime_device(training.plan.device))
        context = TrainingContext(training, round_index, stores, settings, running.folder.package, device)
        job = {"kind": "training", "sample_ids": list(context.round.sample_ids)}
        service = RunnerService(context, running.folder, job_spec(running.folder, job, training.plan, device))
        return _run(
            training,
            stores.trainings,
            context,
            running,
            service,
            stores,
            lambda _: context.finish_round(),
            context.start_assets,
        )


@contextmanager
def _sandbox(kind: str, given: Sandbox | None) -> Iterator[Sandbox]:
    """The caller's sandbox (it closes it), or one of this job's own."""
    if given is not None:
        yield given
        return
    with open_sandbox(kind) as sandbox:
        yield sandbox


def job_spec(folder: JobFolder, job: dict[str, Any], plan: JobPlan, device: str) -> dict[str, Any]:
    """What the algorithm's process is told of its job: the kind's own fields, and where things are."""
    return {
        **job,
        "parameters": plan.parameters,
        "device": device,
        "package_dir": str(folder.package),
        "work_dir": str(folder.work),
        "scratch_dir": str(folder.scratch),
        "outbox_dir": str(folder.outbox),
        # The version's declared dependencies, first on the algorithm's import path (gpu_worker.envs).
        "environment_dir": str(folder.environment) if plan.environment else None,
    }


def _run(
    record: J,
    store: JobStore[J],
    context: ExecutionContext | TrainingContext,
    sandbox: Sandbox,
    service: RunnerService,
    stores: Stores,
    finish: Callable[[list[str]], J],
    assets: dict[str, str] | None = None,
) -> J:
    """Stage the package while the algorithm's process starts, serve it, and record how the job ended."""
    job_id = str(getattr(record, store.id_field))
    try:
        _stage_package(record.plan, assets or record.plan.assets, context.package_dir, stores)
        if record.plan.environment is not None:
            stage_environment(record.plan.environment, stores.objects, sandbox.folder.environment)
        outcome = sandbox.serve(service)
    except Exception as exc:
        # The worker's own failure (staging, a store), recorded without a traceback: its frames are the
        # server's, which clients never see. The worker's log has it whole.
        logger.exception("job failed", extra={"job_id": job_id})
        context.flush()
        error = JobError(type=type(exc).__name__, message=str(exc) or type(exc).__name__)
        return _settle(job_id, store, lambda: store.fail(job_id, error))
    finally:
        service.close()
    return _settle(job_id, store, lambda: _record(job_id, store, context, outcome, finish))


def _record(
    job_id: str,
    store: JobStore[J],
    context: ExecutionContext | TrainingContext,
    outcome: Outcome,
    finish: Callable[[list[str]], J],
) -> J:
    """The final write for ``outcome``. Raises IllegalTransitionError (the record ended meanwhile)."""
    if outcome.status == "completed":
        unknown = sorted(set(outcome.output_ids) - set(context.output_ids))
        if not unknown:
            return finish(list(outcome.output_ids))
        outcome = failed("InvalidInputError", f"postprocess returned files this job did not write: {unknown}")
    context.flush()
    if outcome.status == "stopped":
        return store.stop(job_id, f"{store.job_kind.capitalize()} stopped.")
    error = outcome.error or JobError(type="RuntimeError", message="the algorithm failed")
    return store.fail(job_id, error, outcome.trace)


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
