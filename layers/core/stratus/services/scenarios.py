"""Scenario use cases: create (checked as an execution's accept would be), run as an ordinary execution,
reset, read with the execution's status, delete."""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, NoReturn

from stratus.errors import ConflictError, IllegalTransitionError, InvalidInputError, NotFoundError
from stratus.models.executions import ExecutionCreate
from stratus.models.jobs import JobError, JobStatus, is_terminal
from stratus.models.samples import file_ids_of
from stratus.models.workspaces import (
    MAX_DATASETS,
    DatasetRef,
    ScenarioOutcome,
    ScenarioRecord,
    ScenarioStatus,
)
from stratus.services import files, jobs, launch

if TYPE_CHECKING:
    from stratus.models.executions import ExecutionRecord
    from stratus.models.workspaces import ScenarioCreate, WorkspaceRecord
    from stratus.stores import StateMachineStore, Stores

# A scenario whose execution is not final yet: seed 004's QUEUED (PENDING, STARTED) and PROCESSING.
LIVE_STATUSES = frozenset({ScenarioStatus.PENDING, ScenarioStatus.STARTED, ScenarioStatus.RUNNING})


def create(workspace: WorkspaceRecord, request: ScenarioCreate, stores: Stores) -> ScenarioRecord:
    """Store a CREATED scenario after the checks an execution's accept makes that can be made now: the
    algorithm (404), its environment (409), the parameters against its schema (422), the datasets
    (404 unknown, 409 not READY).

    Raises NotFoundError, NotReadyError, EnvironmentFailedError, InvalidInputError, AlreadyExistsError
    (the tag is taken), ConflictError.
    """
    tenant = workspace.tenant
    algorithm_id = jobs.algorithm_id_of(request, tenant, stores)
    datasets = _datasets(request.dataset_ids, tenant, stores)
    files.get_ready_many(_input_files(datasets, tenant, stores), tenant, stores)
    jobs.plan_job(algorithm_id, None, None, request.parameters, None, tenant, stores)
    now = stores.clock()
    record = ScenarioRecord(
        workspace_id=workspace.workspace_id,
        scenario_id=str(uuid.uuid4()),
        tenant=tenant,
        tag=request.tag,
        algorithm_id=algorithm_id,
        parameters=request.parameters,
        datasets=datasets,
        created_at=now,
        updated_at=now,
    )
    stores.workspaces.add_scenario(workspace, record)
    return record


def _datasets(dataset_ids: list[str], tenant: str, stores: Stores) -> list[DatasetRef]:
    """What each id is: the tenant's file, else its sample (which stands for its files, as a training's
    samples do). Raises NotFoundError naming every id that is neither."""
    found_files = stores.files.get_many(dataset_ids, tenant)
    others = [i for i in dataset_ids if i not in found_files]
    found_samples = stores.samples.get_many(others, tenant) if others else {}
    missing = [i for i in others if i not in found_samples]
    if missing:
        raise NotFoundError(f"files or samples not found: {', '.join(missing)}")
    return [DatasetRef(kind="file" if i in found_files else "sample", id=i) for i in dataset_ids]


def _input_files(datasets: list[DatasetRef], tenant: str, stores: Stores) -> list[str]:
    """The files an execution of the scenario reads: file ids as they are, a sample's files in its
    order, each file once. Raises NotFoundError (a sample was deleted), InvalidInputError (too many)."""
    sample_ids = [d.id for d in datasets if d.kind == "sample"]
    samples = {s.sample_id: s for s in stores.samples.get_all(sample_ids, tenant)} if sample_ids else {}
    ids: list[str] = []
    for dataset in datasets:
        ids.extend([dataset.id] if dataset.kind == "file" else file_ids_of(samples[dataset.id].files))
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_DATASETS:
        raise InvalidInputError(f"an execution reads at most {MAX_DATASETS} files; these are {len(unique)}")
    return unique


def state_of(record: ScenarioRecord, stores: Stores) -> ScenarioOutcome | None:
    """Where the scenario's run is (None while CREATED): one read of its execution at most."""
    if record.execution_id is None or record.outcome is not None:
        return record.outcome
    try:
        execution = stores.executions.get(record.execution_id, record.tenant)
    except NotFoundError:
        execution = None
    return _state(record, execution, stores)


def states_of(records: list[ScenarioRecord], stores: Stores) -> list[ScenarioOutcome | None]:
    """Each scenario's state, reading every execution it needs in one batched read."""
    wanted = [r.execution_id for r in records if r.execution_id is not None and r.outcome is None]
    found = stores.executions.get_many(wanted, records[0].tenant) if wanted else {}
    return [
        r.outcome
        if r.execution_id is None or r.outcome is not None
        else _state(r, found.get(r.execution_id), stores)
        for r in records
    ]


def _state(record: ScenarioRecord, execution: ExecutionRecord | None, stores: Stores) -> ScenarioOutcome:
    if execution is None:
        # Executions expire (launch.EXECUTION_LIFETIME_SECONDS); one that ended unread leaves no result.
        error = JobError(type="NotFoundError", message=f"execution {record.execution_id} expired unread")
        return ScenarioOutcome(status=JobStatus.FAILED, progress=0.0, error=error)
    outcome = ScenarioOutcome(
        status=execution.status,
        progress=execution.progress,
        output_dataset_ids=execution.output_dataset_ids,
        kpis=execution.kpis,
        error=execution.error,
    )
    if is_terminal(execution.status):
        stores.workspaces.keep_outcome(record, outcome)
    return outcome


def run(
    workspace: WorkspaceRecord, record: ScenarioRecord, stores: Stores, machine: StateMachineStore
) -> tuple[ScenarioRecord, ScenarioOutcome | None]:
    """Start the CREATED scenario's execution exactly as /execute-algorithm does, then mark the scenario
    run by it. Two racing runs start one execution: both accept it under the same idempotency key (the
    scenario's run number), and one conditional write decides which run answers.

    Raises IllegalTransitionError (not CREATED), and what an execution's accept raises.
    """
    if record.execution_id is not None:
        raise _not_created(record, stores)
    tenant = workspace.tenant
    request = ExecutionCreate(
        algorithm_id=record.algorithm_id,
        input_dataset_ids=_input_files(record.datasets, tenant, stores),
        additional_parameters=record.parameters,
    )
    key = f"scenario-{record.scenario_id}-run-{record.run_count + 1}"
    execution_id = launch.execute(request, tenant, stores, machine, key)
    claimed = stores.workspaces.claim_run(record, execution_id)
    if claimed is None:
        _abandon(workspace, record, execution_id, stores, machine)
    return claimed, state_of(claimed, stores)


def _abandon(
    workspace: WorkspaceRecord,
    record: ScenarioRecord,
    execution_id: str,
    stores: Stores,
    machine: StateMachineStore,
) -> NoReturn:
    """The claim failed: a racing run claimed this very execution (it stands), or the scenario changed
    or went since it was read; then nothing owns the execution and it is stopped before it runs.

    Raises IllegalTransitionError, NotFoundError.
    """
    tenant = workspace.tenant
    try:
        _, current = stores.workspaces.workspace_and_scenario(
            tenant, workspace.workspace_id, record.scenario_id
        )
    except NotFoundError:
        current = None
    if current is None or current.execution_id != execution_id:
        # An execution that already ended (an earlier run's, reused by its key) has nothing to stop.
        with contextlib.suppress(IllegalTransitionError):
            launch.stop(execution_id, tenant, stores, machine)
    if current is None:
        raise NotFoundError("scenario not found")
    raise _not_created(current, stores)


def _not_created(record: ScenarioRecord, stores: Stores) -> IllegalTransitionError:
    state = state_of(record, stores)
    status = ScenarioStatus.CREATED if state is None else state.status.value
    return IllegalTransitionError(
        f'scenario "{record.tag}" is {status}: only a CREATED scenario runs (reset it first)'
    )


def reset(record: ScenarioRecord, stores: Stores) -> ScenarioRecord:
    """Back to CREATED with the result cleared (its execution stays an ordinary one); a no-op when
    CREATED. Raises IllegalTransitionError (its execution has not ended), ConflictError."""
    if record.execution_id is None:
        return record
    state = state_of(record, stores)
    if state is not None and not is_terminal(state.status):
        raise IllegalTransitionError(
            f'scenario "{record.tag}" is {state.status.value}: wait until it ends, or stop its execution '
            f"{record.execution_id}, before a reset"
        )
    cleared = stores.workspaces.clear_run(record)
    if cleared is None:
        raise ConflictError(f'scenario "{record.tag}" changed while it was reset; try again')
    return cleared


def delete(workspace: WorkspaceRecord, record: ScenarioRecord, stores: Stores) -> None:
    """Delete a scenario at any time; its execution, if any, is an ordinary one and goes on.

    Raises NotFoundError.
    """
    stores.workspaces.remove_scenario(workspace, record)
