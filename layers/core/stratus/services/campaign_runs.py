"""The campaign runner's tasks (statemachines/campaign.asl.json): each round collects the trials whose
executions ended (tell), then asks the optimizer for the next ones and accepts their executions (ask), or
ends the run. The optimizer keeps no state between rounds: it is rebuilt from the stored trials."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
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
from stratus.models.workflows import TaskType, WorkflowCreate, WorkflowStatus
from stratus.services import holds, jobs, launch, workflows
from stratus.services.campaigns import STEP_SEPARATOR, observations_of, stop_trials
from stratus.stores.layout import campaign_plot_key

if TYPE_CHECKING:
    from stratus.models.campaign_runs import CampaignTask, MarkCampaignFailedTask
    from stratus.models.campaigns import CampaignRecord
    from stratus.models.executions import ExecutionRecord
    from stratus.stores import Stores

LIVE_TRIAL_STATUSES = frozenset({TrialStatus.PENDING, TrialStatus.RUNNING})


def run_task(
    task: CampaignTask, stores: Stores, machines: workflows.Machines
) -> CampaignRoundPlan | TrialRecord:
    """Run one of the runner's tasks (``machines`` start workflow trials and stop trials when the
    campaign fails)."""
    if isinstance(task, PlanCampaignRoundTask):
        return plan_round(task, stores, machines)
    if isinstance(task, SettleCampaignTrialTask):
        return settle_trial(task, stores)
    return mark_failed(task, stores)


class Outcome(NamedTuple):
    """Where a RUNNING trial's run is: launched (a PENDING execution may never have been handed to the
    Map, a PENDING workflow never started), ended, completed, with the KPIs it reported (a workflow's:
    `<step id>.<KPI>`) or why not."""

    launched: bool
    ended: bool = False
    completed: bool = False
    kpis: dict[str, float] = {}
    error: str | None = None


def plan_round(
    task: PlanCampaignRoundTask, stores: Stores, machines: workflows.Machines
) -> CampaignRoundPlan:
    """Collect ended trials, then start new ones: "run" them, "wait" for trials running or a full queue,
    or "end" the run (the campaign is final or paused, or another run drives it). Idempotent: a retried
    task finds the trials it started RUNNING with executions not yet launched (or workflows not yet
    started), and launches those."""
    try:
        record = stores.campaigns.get(task.campaign_id)
    except NotFoundError:  # deleted while its run went on: nothing left to drive
        return _plan(task.campaign_id, "end", CampaignStatus.CANCELLED)
    if record.runner != task.run or not record.runner_active:
        return _plan(record.campaign_id, "end", record.status)
    trials = stores.campaigns.trials(record.campaign_id)
    outcomes = _outcomes(trials, record.tenant, stores)
    trials = [_collect(t, outcomes[t.number], record, stores) if t.number in outcomes else t for t in trials]
    record = _tell(record, trials, stores)
    running = [t for t in trials if t.status is TrialStatus.RUNNING]
    launched = [t for t in running if outcomes[t.number].launched]
    if record.status is not CampaignStatus.RUNNING:  # paused or cancelled: no trial starts
        if record.status is CampaignStatus.PAUSED and launched:
            return _plan(record.campaign_id, "wait", record.status)  # collect them as they end
        return _end_run(record, stores)
    unreported = _unreported_objective(trials, outcomes)
    if unreported is not None:
        stop_trials(trials, record.tenant, stores, machines)
        return _end_run(record, stores, CampaignStatus.FAILED, unreported)
    if record.max_failures is not None and record.failed_trials > record.max_failures:
        stop_trials(trials, record.tenant, stores, machines)
        error = f"{record.failed_trials} trials failed, more than max_failures ({record.max_failures})"
        return _end_run(record, stores, CampaignStatus.FAILED, error)
    unlaunched = [t for t in running if t not in launched]
    room = record.batch_size - len(running)
    asked = _ask_and_start(record, trials, task, stores, machines, room)
    runs = [r for r in (_run_of(t, task, stores, machines) for t in [*unlaunched, *asked.started]) if r]
    if runs or asked.refused:  # with only refused trials the Map is empty, and the next round comes at once
        return _plan(record.campaign_id, "run", record.status, runs)
    if running or asked.started or asked.waiting:
        return _plan(record.campaign_id, "wait", record.status)
    if asked.exhausted:
        return _end_run(record, stores, CampaignStatus.COMPLETED)
    return _plan(record.campaign_id, "wait", record.status)


def _plan(
    campaign_id: str, next_step: Any, status: CampaignStatus, runs: list[TrialRun] | None = None
) -> CampaignRoundPlan:
    return CampaignRoundPlan(campaign_id=campaign_id, next=next_step, status=status, trials=runs or [])


def _outcomes(trials: list[TrialRecord], tenant: str, stores: Stores) -> dict[int, Outcome]:
    """Where each RUNNING trial's execution or workflow is, by trial number (executions in one batched
    read); a run that is gone ended FAILED."""
    running = [t for t in trials if t.status is TrialStatus.RUNNING]
    ids = [t.execution_id for t in running if t.execution_id]
    executions = stores.executions.get_many(ids, tenant) if ids else {}
    outcomes: dict[int, Outcome] = {}
    for trial in running:
        if trial.workflow_id is not None:
            outcomes[trial.number] = _workflow_outcome(trial.workflow_id, tenant, stores)
            continue
        execution = executions.get(trial.execution_id or "")
        if execution is None:
            error = f"its execution {trial.execution_id} is gone"
            outcomes[trial.number] = Outcome(launched=True, ended=True, error=error)
            continue
        outcomes[trial.number] = Outcome(
            launched=execution.status is not JobStatus.PENDING,
            ended=is_terminal(execution.status),
            completed=execution.status is JobStatus.COMPLETED,
            kpis={name: kpi.value for name, kpi in execution.kpis.items()},
            error=f"{execution.error.type}: {execution.error.message}"
            if execution.error
            else f"its execution ended {execution.status.value}",
        )
    return outcomes


def _workflow_outcome(workflow_id: str, tenant: str, stores: Stores) -> Outcome:
    """A workflow trial's outcome: it ends COMPLETED, FAILED or CANCELLED (a user may resume a FAILED
    workflow, but the trial has its result); its KPIs are every step's job's, `<step id>.<KPI>`."""
    try:
        workflow = stores.workflows.get(workflow_id, tenant)
    except NotFoundError:
        return Outcome(launched=True, ended=True, error=f"its workflow {workflow_id} is gone")
    if workflow.status in workflows.LIVE:
        return Outcome(launched=workflow.status is not WorkflowStatus.PENDING)
    kpis: dict[str, float] = {}
    for step in stores.workflows.steps(workflow_id):
        if step.task_id is None:
            continue
        store = stores.trainings if step.definition.task_type is TaskType.TRAINING else stores.executions
        with contextlib.suppress(NotFoundError):  # an expired job reported nothing we can read
            job = store.get(step.task_id, tenant)
            kpis.update({f"{step.step_id}{STEP_SEPARATOR}{k}": kpi.value for k, kpi in job.kpis.items()})
    completed = workflow.status is WorkflowStatus.COMPLETED
    error = (
        None
        if completed
        else (workflow.errors[-1] if workflow.errors else f"its workflow ended {workflow.status.value}")
    )
    return Outcome(launched=True, ended=True, completed=completed, kpis=kpis, error=error)


def _collect(trial: TrialRecord, outcome: Outcome, record: CampaignRecord, stores: Stores) -> TrialRecord:
    """A RUNNING trial whose run ended: COMPLETED with its KPIs, or FAILED with why."""
    if not outcome.ended:
        return trial
    if not outcome.completed:
        return _end_trial(trial, TrialStatus.FAILED, outcome.kpis, outcome.error, stores)
    missing = [o.name for o in record.spec.objectives if o.name not in outcome.kpis]
    if missing:
        error = f"KPI {missing[0]!r} was not reported"
        return _end_trial(trial, TrialStatus.FAILED, outcome.kpis, error, stores)
    return _end_trial(trial, TrialStatus.COMPLETED, outcome.kpis, None, stores)


def _unreported_objective(trials: list[TrialRecord], outcomes: dict[int, Outcome]) -> str | None:
    """Why the campaign stops, when a trial collected now failed although its run COMPLETED: it did not
    report an objective (misspelt, or the algorithm reports other KPIs), and every trial would end the
    same way, so none more runs."""
    for trial in trials:
        outcome = outcomes.get(trial.number)
        if trial.status is TrialStatus.FAILED and outcome and outcome.completed:
            reported = ", ".join(sorted(outcome.kpis)) or "no KPIs"
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
    """What a round's ask started: the trials now RUNNING (their runs not yet launched), whether trials
    wait (the tenant's queue was full, or an accept raced a change), whether the campaign has no trial
    left to run, and whether a run was refused (its trial FAILED)."""

    started: list[TrialRecord]
    waiting: bool = False
    exhausted: bool = False
    refused: bool = False


def _ask_and_start(
    record: CampaignRecord,
    trials: list[TrialRecord],
    task: PlanCampaignRoundTask,
    stores: Stores,
    machines: workflows.Machines,
    room: int,
) -> Asked:
    """Ask the optimizer for up to ``room`` trials (PENDING ones left by a full queue first), store
    them and accept their executions (or create their workflows)."""
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
    started: list[TrialRecord] = []
    raced = refused = False
    for trial in pending[: max(room, 0)]:
        try:
            running = _start(record, trial, task, stores, machines)
        except TooManyRequestsError:
            return Asked(started, waiting=True)  # the tenant's queue is full: a later round tries again
        except IllegalTransitionError:
            return Asked(started)  # paused or cancelled meanwhile: nothing more starts
        except ConflictError:
            raced = True  # raced a change (an input's hold): the next round tries again
            continue
        if running is None:
            refused = True
        else:
            started.append(running)
    return Asked(started, waiting=raced, exhausted=exhausted and not started, refused=refused)


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


def _start(
    record: CampaignRecord,
    trial: TrialRecord,
    task: PlanCampaignRoundTask,
    stores: Stores,
    machines: workflows.Machines,
) -> TrialRecord | None:
    """Accept the trial's execution (or create its workflow, PENDING) and mark the trial RUNNING; a
    refused one fails the trial (None). A key made of the run and the trial makes a retried task find
    what the first attempt made."""
    key = f"campaign:{record.campaign_id}:{task.run}:trial:{trial.number}"
    try:
        if record.workflow is not None:
            run_ids = {"workflow_id": _create_workflow(record, trial, key, stores, machines)}
        else:
            run_ids = {"execution_id": _accept_execution(record, trial, key, stores)}
    except (TooManyRequestsError, ConflictError):
        raise
    except (StratusError, ValidationError) as exc:
        detail = exc.detail if isinstance(exc, StratusError) else str(exc)
        what = "workflow" if record.workflow is not None else "execution"
        failed = {"status": TrialStatus.FAILED.value, "error": f"its {what} was refused: {detail}"}
        stores.campaigns.update_trial(trial, {**failed, "ended_at": stores.clock()}, [TrialStatus.PENDING])
        return None
    try:
        return stores.campaigns.start_trial(trial, run_ids, task.run)
    except IllegalTransitionError as exc:
        # Paused or cancelled since this round began: the run never starts (an execution gives its
        # places back; a PENDING workflow is cancelled).
        if "execution_id" in run_ids:
            jobs.fail_unstarted(
                run_ids["execution_id"], stores.executions, record.input_dataset_ids, exc, stores
            )
        else:
            with contextlib.suppress(StratusError):
                workflows.cancel(run_ids["workflow_id"], record.tenant, stores, machines)
        raise


def _accept_execution(record: CampaignRecord, trial: TrialRecord, key: str, stores: Stores) -> str:
    assert record.algorithm_id is not None  # an algorithm campaign's
    request = ExecutionCreate(
        algorithm_id=record.algorithm_id,
        algorithm_minor_version=str(record.algorithm_minor),
        input_dataset_ids=record.input_dataset_ids,
        additional_parameters={**record.parameters, **trial.parameters},
        priority=record.priority,
    )
    return launch.execute(request, record.tenant, stores, None, idempotency_key=key)


def _create_workflow(
    record: CampaignRecord, trial: TrialRecord, key: str, stores: Stores, machines: workflows.Machines
) -> str:
    """The trial's workflow, PENDING: the template with the trial's values set in its steps' parameters.
    Its id comes from ``key``, so a retried task finds it instead of making another."""
    assert record.workflow is not None  # a workflow campaign's
    # Shaped as every id the API takes (a version-4 UUID), drawn from the key rather than at random.
    workflow_id = str(uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16], version=4))
    with contextlib.suppress(NotFoundError):
        stores.workflows.get(workflow_id, record.tenant)
        return workflow_id
    steps = [step.model_copy(deep=True) for step in record.workflow.steps]
    by_id = {step.id: step for step in steps}
    for name, value in trial.parameters.items():
        step_id, _, parameter = name.partition(STEP_SEPARATOR)
        config = by_id[step_id].config
        config["additional_parameters"] = {**(config.get("additional_parameters") or {}), parameter: value}
    request = WorkflowCreate(
        name=f"{record.workflow.name} #{trial.number}"[:255],
        description=record.workflow.description,
        steps=steps,
        config=record.workflow.config,
        priority=record.priority,
        origin_reference=f"campaign {record.campaign_id} trial {trial.number}",
    )
    # The trial's values were checked at create against the same steps' schemas; the steps are checked again.
    return workflows.create(request, record.tenant, stores, machines, start=False, workflow_id=workflow_id)


def _run_of(
    trial: TrialRecord, task: PlanCampaignRoundTask, stores: Stores, machines: workflows.Machines
) -> TrialRun | None:
    """Launch a RUNNING trial's run: an execution's goes to the Map (a TrialRun); a workflow starts
    its own run here (its first start wins; a retried one finds it started)."""
    if trial.workflow_id is not None:
        with contextlib.suppress(IllegalTransitionError):
            workflows.start_workflow(trial.workflow_id, trial.tenant, stores, machines)
        return None
    return _trial_run(trial, stores.executions.get(trial.execution_id or ""), task.execution_machine)


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
