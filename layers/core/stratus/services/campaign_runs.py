"""The campaign runner's tasks (statemachines/campaign.asl.json): each round collects the trials whose
executions ended (tell), then asks the optimizer for the next ones and accepts their executions (ask), or
ends the run. The optimizer keeps no state between rounds: it is rebuilt from the stored trials."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import ValidationError

from stratus import campaigns as engine
from stratus.errors import (
    ConflictError,
    IllegalTransitionError,
    NotFoundError,
    StratusError,
    TooManyRequestsError,
)
from stratus.models.campaign_runs import (
    CampaignRoundPlan,
    PlanCampaignRoundTask,
    SettleCampaignTrialTask,
    TrialRun,
)
from stratus.models.campaigns import CampaignStatus, TrialRecord, TrialStatus
from stratus.models.executions import ExecutionCreate, ExecutionInput
from stratus.models.jobs import JobError, JobStatus, is_terminal
from stratus.services import holds, jobs, launch
from stratus.services.campaigns import observations_of, stop_trials
from stratus.stores.layout import campaign_plot_key

if TYPE_CHECKING:
    from stratus.models.campaign_runs import CampaignTask, MarkCampaignFailedTask
    from stratus.models.campaigns import CampaignRecord
    from stratus.models.executions import ExecutionRecord
    from stratus.stores import StateMachineStore, Stores

LIVE_TRIAL_STATUSES = frozenset({TrialStatus.PENDING, TrialStatus.RUNNING})


def run_task(
    task: CampaignTask, stores: Stores, execution_machine: StateMachineStore
) -> CampaignRoundPlan | TrialRecord:
    """Run one of the runner's tasks (``execution_machine`` stops trials when the campaign fails)."""
    if isinstance(task, PlanCampaignRoundTask):
        return plan_round(task, stores, execution_machine)
    if isinstance(task, SettleCampaignTrialTask):
        return settle_trial(task, stores)
    return mark_failed(task, stores)


def plan_round(
    task: PlanCampaignRoundTask, stores: Stores, execution_machine: StateMachineStore
) -> CampaignRoundPlan:
    """Collect ended trials, then start new ones: "run" them, "wait" for trials running or a full queue,
    or "end" the run (the campaign is final or paused, or another run drives it). Idempotent: a retried
    task finds the trials it started RUNNING with executions not yet launched, and launches those."""
    try:
        record = stores.campaigns.get(task.campaign_id)
    except NotFoundError:  # deleted while its run went on: nothing left to drive
        return _plan(task.campaign_id, "end", CampaignStatus.CANCELLED)
    if record.runner != task.run or not record.runner_active:
        return _plan(record.campaign_id, "end", record.status)
    trials = stores.campaigns.trials(record.campaign_id)
    executions = _executions_of(trials, record.tenant, stores)
    trials = [
        _collect(t, executions, record, stores) if t.status is TrialStatus.RUNNING else t for t in trials
    ]
    record = _tell(record, trials, stores)
    if record.status is not CampaignStatus.RUNNING:  # paused or cancelled: no trial starts
        if record.status is CampaignStatus.PAUSED and _launched(trials, executions):
            return _plan(record.campaign_id, "wait", record.status)  # collect them as they end
        return _end_run(record, stores)
    unreported = _unreported_objective(trials, executions)
    if unreported is not None:
        stop_trials(trials, record.tenant, stores, execution_machine)
        return _end_run(record, stores, CampaignStatus.FAILED, unreported)
    if record.max_failures is not None and record.failed_trials > record.max_failures:
        stop_trials(trials, record.tenant, stores, execution_machine)
        error = f"{record.failed_trials} trials failed, more than max_failures ({record.max_failures})"
        return _end_run(record, stores, CampaignStatus.FAILED, error)
    unlaunched = [
        t
        for t in trials
        if t.status is TrialStatus.RUNNING and executions[t.execution_id or ""].status is JobStatus.PENDING
    ]
    running = [t for t in trials if t.status is TrialStatus.RUNNING and t not in unlaunched]
    runs = [_trial_run(t, executions[t.execution_id or ""], task.execution_machine) for t in unlaunched]
    room = record.batch_size - len(running) - len(unlaunched)
    asked = _ask_and_start(record, trials, task, stores, room)
    runs += asked.runs
    if runs or asked.refused:  # with only refused trials the Map is empty, and the next round comes at once
        return _plan(record.campaign_id, "run", record.status, runs)
    if running or asked.waiting:
        return _plan(record.campaign_id, "wait", record.status)
    if asked.exhausted:
        return _end_run(record, stores, CampaignStatus.COMPLETED)
    return _plan(record.campaign_id, "wait", record.status)


def _launched(trials: list[TrialRecord], executions: dict[str, ExecutionRecord]) -> bool:
    """Whether a RUNNING trial's execution has started (a PENDING one may never have been launched: a
    resume launches it)."""
    return any(
        t.status is TrialStatus.RUNNING and executions[t.execution_id or ""].status is not JobStatus.PENDING
        for t in trials
    )


def _plan(
    campaign_id: str, next_step: Any, status: CampaignStatus, runs: list[TrialRun] | None = None
) -> CampaignRoundPlan:
    return CampaignRoundPlan(campaign_id=campaign_id, next=next_step, status=status, trials=runs or [])


def _executions_of(trials: list[TrialRecord], tenant: str, stores: Stores) -> dict[str, ExecutionRecord]:
    """The live executions of the RUNNING trials, by id (one batched read)."""
    ids = [t.execution_id for t in trials if t.status is TrialStatus.RUNNING and t.execution_id]
    return stores.executions.get_many(ids, tenant) if ids else {}


def _collect(
    trial: TrialRecord, executions: dict[str, ExecutionRecord], record: CampaignRecord, stores: Stores
) -> TrialRecord:
    """A RUNNING trial whose execution ended: COMPLETED with its KPIs, or FAILED with why."""
    execution = executions.get(trial.execution_id or "")
    if execution is None:
        return _end_trial(
            trial, TrialStatus.FAILED, {}, f"its execution {trial.execution_id} is gone", stores
        )
    if not is_terminal(execution.status):
        return trial
    kpis = {name: kpi.value for name, kpi in execution.kpis.items()}
    if execution.status is not JobStatus.COMPLETED:
        error = (
            f"{execution.error.type}: {execution.error.message}"
            if execution.error
            else f"its execution ended {execution.status.value}"
        )
        return _end_trial(trial, TrialStatus.FAILED, kpis, error, stores)
    missing = [o.name for o in record.spec.objectives if o.name not in kpis]
    if missing:
        error = f"KPI {missing[0]!r} was not reported"
        return _end_trial(trial, TrialStatus.FAILED, kpis, error, stores)
    return _end_trial(trial, TrialStatus.COMPLETED, kpis, None, stores)


def _unreported_objective(trials: list[TrialRecord], executions: dict[str, ExecutionRecord]) -> str | None:
    """Why the campaign stops, when a trial collected now failed although its execution COMPLETED: it did
    not report an objective (misspelt, or the algorithm reports other KPIs), and every trial would end
    the same way, so none more runs."""
    for trial in trials:
        execution = executions.get(trial.execution_id or "")
        if trial.status is TrialStatus.FAILED and execution and execution.status is JobStatus.COMPLETED:
            reported = ", ".join(sorted(execution.kpis)) or "no KPIs"
            return (
                f"trial {trial.number}: {trial.error} (it reported {reported}); every trial would end "
                "the same way"
            )
    return None


def _end_trial(
    trial: TrialRecord, status: TrialStatus, kpis: dict[str, float], error: str | None, stores: Stores
) -> TrialRecord:
    values = {"status": status.value, "kpis": kpis, "ended_at": stores.clock(), "error": error}
    # Only from RUNNING: a cancel that stopped it first keeps its end (the task's retry reads again).
    return stores.campaigns.update_trial(trial, values, allowed=[TrialStatus.RUNNING])


def _tell(record: CampaignRecord, trials: list[TrialRecord], stores: Stores) -> CampaignRecord:
    """When trials ended since the last count (collected here, or refused last round): count them and
    draw the plot again."""
    completed = sum(t.status is TrialStatus.COMPLETED for t in trials)
    failed = sum(t.status is TrialStatus.FAILED for t in trials)
    if (completed, failed) == (record.completed_trials, record.failed_trials):
        return record
    values: dict[str, Any] = {"completed_trials": completed, "failed_trials": failed}
    png = engine.render_plot(
        record.spec, observations_of(record.model_copy(update={"warm_start": []}), trials)
    )
    if png is not None:
        stores.objects.put(campaign_plot_key(record.tenant, record.campaign_id), png)
        values["has_plot"] = True
    return stores.campaigns.update(record.campaign_id, values)


class Asked(NamedTuple):
    """What a round's ask started: the runs, whether trials wait (the tenant's queue was full, or an
    accept raced a change), whether the campaign has no trial left to run, and whether an execution was
    refused (its trial FAILED)."""

    runs: list[TrialRun]
    waiting: bool = False
    exhausted: bool = False
    refused: bool = False


def _ask_and_start(
    record: CampaignRecord, trials: list[TrialRecord], task: PlanCampaignRoundTask, stores: Stores, room: int
) -> Asked:
    """Ask the optimizer for up to ``room`` trials (PENDING ones left by a full queue first), store
    them and accept their executions."""
    pending = [t for t in trials if t.status is TrialStatus.PENDING]
    remaining = record.planned_trials - sum(t.status is not TrialStatus.STOPPED for t in trials)
    wanted = max(0, min(room - len(pending), remaining))
    exhausted = remaining <= 0
    if wanted:
        suggestions = engine.suggest(record.spec, observations_of(record, trials), wanted)
        exhausted = not suggestions and not pending
        fresh = [_new_trial(record, record.trial_count + 1 + i, p, stores) for i, p in enumerate(suggestions)]
        if fresh:
            try:
                stores.campaigns.add_trials(record, fresh, task.run)
            except IllegalTransitionError:
                return Asked([])  # paused or cancelled meanwhile: the next round ends the run
            pending += fresh
    runs: list[TrialRun] = []
    raced = refused = False
    for trial in pending[: max(room, 0)]:
        try:
            run = _launch(record, trial, task, stores)
        except TooManyRequestsError:
            return Asked(runs, waiting=True)  # the tenant's queue is full: a later round tries again
        except IllegalTransitionError:
            return Asked(runs)  # paused or cancelled meanwhile: nothing more starts
        except ConflictError:
            raced = True  # raced a change (an input's hold): the next round tries again
            continue
        if run is None:
            refused = True
        else:
            runs.append(run)
    return Asked(runs, waiting=raced, exhausted=exhausted and not runs, refused=refused)


def _new_trial(
    record: CampaignRecord, number: int, parameters: dict[str, Any], stores: Stores
) -> TrialRecord:
    now = stores.clock()
    return TrialRecord(
        campaign_id=record.campaign_id,
        tenant=record.tenant,
        number=number,
        parameters=parameters,
        created_at=now,
        updated_at=now,
        expires_at=record.expires_at,
    )


def _launch(
    record: CampaignRecord, trial: TrialRecord, task: PlanCampaignRoundTask, stores: Stores
) -> TrialRun | None:
    """Accept the trial's execution (the Map starts its run) and mark the trial RUNNING; a refused
    execution fails the trial (None). The idempotency key makes a retried task's accept return the
    execution the first attempt made."""
    try:
        request = ExecutionCreate(
            algorithm_id=record.algorithm_id,
            algorithm_minor_version=str(record.algorithm_minor),
            input_dataset_ids=record.input_dataset_ids,
            additional_parameters={**record.parameters, **trial.parameters},
            priority=record.priority,
        )
        key = f"campaign:{record.campaign_id}:{task.run}:trial:{trial.number}"
        execution_id = launch.execute(request, record.tenant, stores, None, idempotency_key=key)
    except (TooManyRequestsError, ConflictError):
        raise
    except (StratusError, ValidationError) as exc:
        detail = exc.detail if isinstance(exc, StratusError) else str(exc)
        failed = {"status": TrialStatus.FAILED.value, "error": f"its execution was refused: {detail}"}
        stores.campaigns.update_trial(trial, {**failed, "ended_at": stores.clock()}, [TrialStatus.PENDING])
        return None
    try:
        started = stores.campaigns.start_trial(trial, execution_id, task.run)
    except IllegalTransitionError as exc:
        # Paused or cancelled since this round began: the execution never runs, and gives its places back.
        jobs.fail_unstarted(execution_id, stores.executions, record.input_dataset_ids, exc, stores)
        raise
    return _trial_run(started, stores.executions.get(execution_id), task.execution_machine)


def _trial_run(trial: TrialRecord, execution: ExecutionRecord, machine: str) -> TrialRun:
    assert trial.execution_id is not None
    machine_input = ExecutionInput(execution_id=trial.execution_id, device=execution.plan.device.kind)
    return TrialRun(
        number=trial.number,
        execution_id=trial.execution_id,
        machine=machine,
        # A run's ARN is its state machine's with :stateMachine: made :execution:, and its name appended.
        run_arn=f"{machine.replace(':stateMachine:', ':execution:', 1)}:{trial.execution_id}",
        input=machine_input.model_dump(),
    )


def _end_run(
    record: CampaignRecord,
    stores: Stores,
    target: CampaignStatus | None = None,
    error: str | None = None,
) -> CampaignRoundPlan:
    """The run ends: the campaign COMPLETED or FAILED (``target``), or as it is (PAUSED, CANCELLED). The
    write is conditional on the status read and this run: a resume or cancel that came in between
    wins, and the next round looks again."""
    values: dict[str, Any] = {"runner_active": False}
    if target is not None:
        values["completed_at"] = stores.clock()
        if error is not None:
            values["errors"] = [*record.errors, error]
    try:
        ended = stores.campaigns.transition(
            record.campaign_id,
            target or record.status,
            values,
            sources=[record.status],
            condition=stores.campaigns.runner_is(record.runner or ""),
        )
    except IllegalTransitionError:
        return _plan(record.campaign_id, "wait", record.status)
    return _plan(ended.campaign_id, "end", ended.status)


def settle_trial(task: SettleCampaignTrialTask, stores: Stores) -> TrialRecord:
    """A trial's child run ended and its execution did not (the run could not start, or was lost): end
    the execution FAILED with the cause; the next round collects the trial."""
    trial = next(t for t in stores.campaigns.trials(task.campaign_id) if t.number == task.number)
    with contextlib.suppress(StratusError):
        execution = stores.executions.get(task.execution_id)
        if not is_terminal(execution.status):
            error = JobError(
                type=str(task.error.get("Error", "Error")), message=str(task.error.get("Cause", ""))[:2000]
            )
            failed = jobs.fail_unless_final(task.execution_id, stores.executions, error)
            holder = holds.holder_of(stores.executions.job_kind, task.execution_id)
            holds.release_job(holder, failed, failed.input_dataset_ids, stores)
    return trial


def mark_failed(task: MarkCampaignFailedTask, stores: Stores) -> CampaignRoundPlan:
    """A runner state failed (not a trial): the campaign ends FAILED with the cause, unless it is final."""
    try:
        record = stores.campaigns.get(task.campaign_id)
    except NotFoundError:
        return _plan(task.campaign_id, "end", CampaignStatus.CANCELLED)
    error, detail = task.error.get("Error", "Error"), str(task.error.get("Cause", ""))[:500]
    cause = f"the campaign's runner failed: {error}: {detail}"
    with contextlib.suppress(IllegalTransitionError):
        record = stores.campaigns.transition(
            record.campaign_id,
            CampaignStatus.FAILED,
            {"runner_active": False, "errors": [*record.errors, cause], "completed_at": stores.clock()},
            sources=[CampaignStatus.RUNNING, CampaignStatus.PAUSED],
            condition=stores.campaigns.runner_is(task.run),
        )
    return _plan(record.campaign_id, "end", record.status)
