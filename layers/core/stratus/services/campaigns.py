"""Campaign use cases of the API: create (algorithm, inputs, search space and warm start checked up
front), read (trials, best, plot, history), pause, resume, cancel, delete."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from pydantic import ValidationError

from stratus import campaigns as engine
from stratus.algorithms import parameter_schema
from stratus.errors import IllegalTransitionError, InvalidInputError, NoPlotError, StratusError
from stratus.models.campaign_runs import CampaignInput
from stratus.models.campaigns import (
    FINAL_CAMPAIGN_STATUSES,
    FINAL_TRIAL_STATUSES,
    BestTrial,
    Campaign,
    CampaignCounts,
    CampaignRecord,
    CampaignStatus,
    CampaignSummary,
    Trial,
    TrialRecord,
    TrialStatus,
)
from stratus.services import dags, files, jobs, launch, workflows
from stratus.stores.layout import campaign_plot_key

if TYPE_CHECKING:
    from stratus.models.campaigns import CampaignCreate, ExistingData, WorkflowTemplate
    from stratus.stores import StateMachineStore, Stores

# As workflows: a campaign may run for days, and its record outlives its runs for a while.
CAMPAIGN_LIFETIME_SECONDS = 30 * 86_400
# A workflow campaign's parameters and objectives: `<step id>.<name>` (a step id has no dot).
STEP_SEPARATOR = "."
# A campaign is a prior of another only through what its trials found.
WARM_START_STATUSES = frozenset({TrialStatus.COMPLETED, TrialStatus.FAILED})


@dataclass(frozen=True)
class Machines:
    """The state machines a campaign's use cases start and stop: its own, and its trials' runs'."""

    campaign: StateMachineStore
    execution: StateMachineStore
    workflow: StateMachineStore
    training: StateMachineStore

    @property
    def trials(self) -> workflows.Machines:
        """What starts and stops trials' runs: executions, or workflows and their jobs."""
        return workflows.Machines(workflow=self.workflow, execution=self.execution, training=self.training)


def create(request: CampaignCreate, tenant: str, stores: Stores, machines: Machines) -> CampaignRecord:
    """Check the algorithm, inputs and fixed parameters (or the workflow template's steps), the search
    space (against the parameter schema) and warm start; store the campaign RUNNING and start its run.

    Raises NotFoundError (algorithm, input, warm-start campaign), NotReadyError (an input),
    InvalidInputError (422 naming the parameter, step, row or column).
    """
    algorithm_id: str | None = None
    algorithm_minor: int | None = None
    if request.workflow is not None:
        schema = _workflow_schema(request.workflow, tenant, stores)
    else:
        algorithm_id = jobs.algorithm_id_of(request, tenant, stores)
        files.get_ready_many(request.input_dataset_ids, tenant, stores)
        plan, config = jobs.plan_job(algorithm_id, None, None, request.parameters, None, tenant, stores)
        schema, algorithm_minor = parameter_schema(config.additional_parameters), plan.algorithm_minor
    spec = _spec_of(request, schema)
    if request.workflow is not None:
        _check_step_objectives(spec, request.workflow)
    searched = sorted(set(spec.parameter_names) & set(request.parameters))
    if searched:
        raise InvalidInputError(f"parameters {searched} are searched; leave them out of `parameters`")
    warm_start = _warm_start(request.existing_data, spec, tenant, stores)
    now = stores.clock()
    record = CampaignRecord(
        campaign_id=str(uuid.uuid4()),
        tenant=tenant,
        name=request.name,
        algorithm_id=algorithm_id,
        algorithm_minor=algorithm_minor,
        input_dataset_ids=request.input_dataset_ids,
        workflow=request.workflow,
        spec=spec,
        parameters=request.parameters,
        batch_size=request.batch_size,
        max_failures=request.max_failures,
        priority=request.priority,
        warm_start=[o.model_dump(mode="json") for o in warm_start],
        planned_trials=engine.planned_trials(spec),
        status=CampaignStatus.RUNNING,
        created_at=now,
        updated_at=now,
        expires_at=int(now) + CAMPAIGN_LIFETIME_SECONDS,
    )
    stores.campaigns.create(record)
    return _run(record, [CampaignStatus.RUNNING], stores, machines.campaign)


def _workflow_schema(template: WorkflowTemplate, tenant: str, stores: Stores) -> dict[str, Any]:
    """Check the template as POST /workflows checks a workflow; one parameter schema for all its steps,
    each parameter named `<step id>.<parameter>`."""
    dags.check(template.steps)
    properties: dict[str, Any] = {}
    for step in template.steps:
        step_schema = workflows.check_step(step, tenant, stores)
        for name, prop in step_schema["properties"].items():
            properties[f"{step.id}{STEP_SEPARATOR}{name}"] = prop
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _check_step_objectives(spec: engine.OptimizerSpec, template: WorkflowTemplate) -> None:
    """A workflow trial's KPIs are its steps' jobs' KPIs, named `<step id>.<KPI>`: so are objectives."""
    steps = [step.id for step in template.steps]
    for objective in spec.objectives:
        step, _, kpi = objective.name.partition(STEP_SEPARATOR)
        if step not in steps or not kpi:
            raise InvalidInputError(
                f"objective {objective.name!r}: a workflow campaign's objectives are `<step id>.<KPI>`, "
                f"with a step of {steps}"
            )


def _spec_of(request: CampaignCreate, schema: dict[str, Any]) -> engine.OptimizerSpec:
    """The request's search as the optimizer takes it, checked against the parameters' ``schema``."""
    rows = request.rows if request.rows_csv is None else engine.read_rows_csv(request.rows_csv, schema)
    fields = request.model_dump(
        include={"kind", "search_space", "objectives", "optimizer", "optimizer_options", "budget", "seed"}
    )
    try:
        spec = engine.OptimizerSpec.model_validate({**fields, "rows": rows})
    except ValidationError as exc:  # rows_csv's rows: the request's own fields passed these checks
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(f"the campaign's search is invalid: {detail}") from exc
    return engine.check_spec(spec, schema)


def _warm_start(
    existing: ExistingData | None, spec: engine.OptimizerSpec, tenant: str, stores: Stores
) -> list[engine.Observation]:
    """The earlier results the optimizer starts from: a campaign of the tenant's, or a history CSV."""
    if existing is None:
        return []
    if existing.csv is not None:
        found = engine.read_history_csv(existing.csv, spec)
    else:
        assert existing.campaign_id is not None  # ExistingData's validator
        stores.campaigns.get(existing.campaign_id, tenant)
        trials = stores.campaigns.trials(existing.campaign_id)
        found = [_observation(t, spec) for t in trials if t.status in WARM_START_STATUSES]
    names = set(spec.parameter_names)
    return [o.model_copy(update={"warm_start": True}) for o in found if set(o.parameters) == names]


def _run(
    record: CampaignRecord,
    sources: list[CampaignStatus],
    stores: Stores,
    machine: StateMachineStore,
) -> CampaignRecord:
    """RUNNING with a new run (named <id>-<n>, so a retried start is idempotent) driving it."""
    run = f"{record.campaign_id}-{record.run_count + 1}"
    running = stores.campaigns.transition(
        record.campaign_id,
        CampaignStatus.RUNNING,
        {"runner": run, "runner_active": True, "run_count": record.run_count + 1},
        sources=sources,
        # Of a concurrent create's start and a resume, only one takes the run count from n to n+1.
        condition=Attr("run_count").eq(record.run_count),
    )
    try:
        machine.start(run, CampaignInput(campaign_id=record.campaign_id).model_dump())
    except Exception as exc:
        # Nothing would ever move a campaign whose run did not start: it ends FAILED, and the error goes on.
        with contextlib.suppress(IllegalTransitionError):
            stores.campaigns.transition(
                record.campaign_id,
                CampaignStatus.FAILED,
                {
                    "runner_active": False,
                    "completed_at": stores.clock(),
                    "errors": [*record.errors, f"its run did not start: {type(exc).__name__}"],
                },
                sources=[CampaignStatus.RUNNING],
            )
        raise
    return running


def get(campaign_id: str, tenant: str, stores: Stores) -> tuple[CampaignRecord, list[TrialRecord]]:
    """The campaign and its trials. Raises NotFoundError."""
    record = stores.campaigns.get(campaign_id, tenant)
    return record, stores.campaigns.trials(campaign_id)


def answer(record: CampaignRecord, trials: list[TrialRecord]) -> Campaign:
    """Shape a campaign, its trials and its best trial so far for clients."""
    return Campaign(
        **CampaignSummary.fields_of(record),
        counts=CampaignCounts(
            planned=record.planned_trials,
            created=len(trials),
            running=sum(t.status in (TrialStatus.PENDING, TrialStatus.RUNNING) for t in trials),
            completed=sum(t.status is TrialStatus.COMPLETED for t in trials),
            failed=sum(t.status is TrialStatus.FAILED for t in trials),
        ),
        best=best_of(record.spec, trials),
        trials=[Trial.from_record(t) for t in trials],
    )


def best_of(spec: engine.OptimizerSpec, trials: list[TrialRecord]) -> BestTrial | None:
    """The best trial (one objective) or the Pareto front (several), among the campaign's own
    completed trials; None before any."""
    done = [t for t in trials if t.status is TrialStatus.COMPLETED]
    if not done:
        return None
    indices = engine.best(spec, [_observation(t, spec) for t in done])
    if not indices:
        return None
    if len(spec.objectives) > 1:
        return BestTrial(pareto_front=[Trial.from_record(done[i]) for i in indices])
    winner = done[indices[0]]
    return BestTrial(trial=winner.number, parameters=winner.parameters, kpis=winner.kpis)


def observations_of(record: CampaignRecord, trials: list[TrialRecord]) -> list[engine.Observation]:
    """What the optimizer knows: the warm start, then every trial (STOPPED ones count as failed)."""
    warm = [engine.Observation.model_validate(o) for o in record.warm_start]
    return warm + [_observation(t, record.spec) for t in trials]


def _observation(trial: TrialRecord, spec: engine.OptimizerSpec) -> engine.Observation:
    # A warm start's campaign may have had other objectives: without their values a trial tells nothing.
    if trial.status is TrialStatus.COMPLETED and all(o.name in trial.kpis for o in spec.objectives):
        values = [trial.kpis[o.name] for o in spec.objectives]
        return engine.Observation(parameters=trial.parameters, values=values, status="COMPLETED")
    status = "FAILED" if trial.status in FINAL_TRIAL_STATUSES else trial.status.value
    return engine.Observation(parameters=trial.parameters, status=status)


def plot(campaign_id: str, tenant: str, stores: Stores) -> bytes:
    """The campaign's latest plot (PNG). Raises NotFoundError, NoPlotError (no result yet)."""
    record = stores.campaigns.get(campaign_id, tenant)
    if not record.has_plot:
        raise NoPlotError(f"campaign {campaign_id} has no plot yet: none of its trials has a result")
    return stores.objects.get(campaign_plot_key(tenant, campaign_id))


def history(campaign_id: str, tenant: str, stores: Stores) -> str:
    """Every trial as CSV (a warm start's `existing_data.csv` reads it back). Raises NotFoundError."""
    record, trials = get(campaign_id, tenant, stores)
    return engine.history_csv(record.spec, [_history_row(t) for t in trials])


def _history_row(trial: TrialRecord) -> dict[str, Any]:
    return {
        **trial.model_dump(
            include={"parameters", "kpis", "execution_id", "workflow_id", "error", "started_at", "ended_at"}
        ),
        "trial": trial.number,
        "status": trial.status.value,
    }


def pause(campaign_id: str, tenant: str, stores: Stores) -> CampaignRecord:
    """RUNNING → PAUSED: no new trial starts; running trials finish, the run recording each as it ends
    (one not yet launched waits for a resume).

    Raises NotFoundError, IllegalTransitionError.
    """
    stores.campaigns.get(campaign_id, tenant)
    return stores.campaigns.transition(campaign_id, CampaignStatus.PAUSED, sources=[CampaignStatus.RUNNING])


def resume(campaign_id: str, tenant: str, stores: Stores, machines: Machines) -> CampaignRecord:
    """PAUSED → RUNNING: the run goes on if it has not ended yet, else a new run starts (it collects
    the trials that ran meanwhile). Raises NotFoundError, IllegalTransitionError."""
    record = stores.campaigns.get(campaign_id, tenant)
    if record.status is CampaignStatus.PAUSED and record.runner_active:
        with contextlib.suppress(IllegalTransitionError):  # the run ended meanwhile: start a new one
            return stores.campaigns.transition(
                campaign_id,
                CampaignStatus.RUNNING,
                sources=[CampaignStatus.PAUSED],
                condition=stores.campaigns.runner_is(record.runner or "") & Attr("runner_active").eq(True),
            )
        record = stores.campaigns.get(campaign_id, tenant)
    if record.status is not CampaignStatus.PAUSED or record.runner_active:
        raise IllegalTransitionError(
            f"campaign {campaign_id} is {record.status.value}; only a PAUSED one resumes"
        )
    return _run(record, [CampaignStatus.PAUSED], stores, machines.campaign)


def cancel(campaign_id: str, tenant: str, stores: Stores, machines: Machines) -> CampaignRecord:
    """RUNNING or PAUSED → CANCELLED: no trial starts any more, running trials' executions are stopped
    (STOPPED), and the run is stopped. Raises NotFoundError, IllegalTransitionError."""
    record = stores.campaigns.get(campaign_id, tenant)
    cancelled = stores.campaigns.transition(
        campaign_id, CampaignStatus.CANCELLED, {"completed_at": stores.clock()}
    )
    stop_trials(stores.campaigns.trials(campaign_id), tenant, stores, machines.trials)
    if record.runner is not None:
        machines.campaign.stop(record.runner, "the campaign was cancelled through the API")
    return cancelled


def stop_trials(trials: list[TrialRecord], tenant: str, stores: Stores, machines: workflows.Machines) -> None:
    """End the trials that have not ended STOPPED, stopping their executions or cancelling their
    workflows (those that ended first keep their end; the next read shows the trial as the runner left
    it)."""
    for trial in trials:
        if trial.status in FINAL_TRIAL_STATUSES:
            continue
        with contextlib.suppress(StratusError):  # it ended first
            if trial.execution_id is not None:
                launch.stop(trial.execution_id, tenant, stores, machines.execution)
            elif trial.workflow_id is not None:
                workflows.cancel(trial.workflow_id, tenant, stores, machines)
        with contextlib.suppress(IllegalTransitionError):  # the runner collected it meanwhile
            stores.campaigns.update_trial(
                trial,
                {"status": TrialStatus.STOPPED.value, "ended_at": stores.clock(), "error": "stopped"},
                allowed=[trial.status],
            )


def delete(campaign_id: str, tenant: str, stores: Stores, machines: Machines) -> None:
    """Cancel the campaign if it is live, then remove it, its trials and its plot (the trials'
    executions stay until they expire). Raises NotFoundError."""
    record = stores.campaigns.get(campaign_id, tenant)
    if record.status not in FINAL_CAMPAIGN_STATUSES:
        with contextlib.suppress(IllegalTransitionError):
            cancel(campaign_id, tenant, stores, machines)
    stores.campaigns.remove(campaign_id, tenant)
    stores.objects.delete(campaign_plot_key(tenant, campaign_id))
