"""The campaign runner's tasks (services/campaign_runs.py) called directly against moto: what a round
asks and accepts, what a retried task does, how ended executions are collected (tell), the plot, the
failure limit, a grid run to its end, and a pause."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from stratus import aws as aws_clients
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.campaign_runs import (
    MarkCampaignFailedTask,
    PlanCampaignRoundTask,
    SettleCampaignTrialTask,
)
from stratus.models.campaigns import CampaignCreate, CampaignStatus, TrialStatus
from stratus.models.executions import ExecutionCreate
from stratus.models.ids import UUID4_PATTERN
from stratus.models.jobs import JobError
from stratus.models.workflows import WorkflowStatus
from stratus.services import algorithms, campaign_runs, campaigns, files, launch
from stratus.settings import Settings
from stratus.stores import StateMachineStore, Stores
from stratus.stores.layout import campaign_plot_key

from gpu_worker.builtins import builtin_zip
from tests.conftest import make_hdf5

TENANT = "tenant-a"
DEFINITION = {"StartAt": "Accept", "States": {"Accept": {"Type": "Pass", "End": True}}}
ROLE_ARN = "arn:aws:iam::123456789012:role/campaign-test"
GRID = {"x": {"values": [-3.0, 0.0, 3.0]}, "y": {"values": [2.0, 12.0]}}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def machines(aws: None) -> campaigns.Machines:
    sfn = aws_clients.client("stepfunctions")
    arns = [
        sfn.create_state_machine(name=name, definition=json.dumps(DEFINITION), roleArn=ROLE_ARN)[
            "stateMachineArn"
        ]
        for name in ("campaign", "execution", "workflow", "training")
    ]
    return campaigns.Machines(*(StateMachineStore(sfn, arn) for arn in arns))


@pytest.fixture
def branin_id(stores: Stores, settings: Settings) -> str:
    return algorithms.deploy(builtin_zip("branin"), BUILTIN_OWNER, stores, settings).algorithm_id


@pytest.fixture
def input_id(stores: Stores, settings: Settings) -> str:
    return files.store_upload(make_hdf5(), TENANT, stores, settings).file_id


@pytest.fixture
def create(stores: Stores, machines: campaigns.Machines, branin_id: str, input_id: str) -> Any:
    """``create(**fields)``: a grid campaign on branin (6 points, 2 at a time), stored RUNNING by the
    service with its run <id>-1 started."""

    def make(**fields: Any) -> str:
        body = {
            "algorithm_id": branin_id,
            "input_dataset_ids": [input_id],
            "kind": "grid",
            "search_space": GRID,
            "objectives": [{"name": "branin"}],
            "budget": 6,
            "batch_size": 2,
            **fields,
        }
        request = CampaignCreate.model_validate(body)
        return campaigns.create(request, TENANT, stores, machines).campaign_id

    return make


def _plan(stores: Stores, machines: campaigns.Machines, campaign_id: str, run: int = 1) -> Any:
    task = PlanCampaignRoundTask(
        action="plan_campaign_round",
        campaign_id=campaign_id,
        run=f"{campaign_id}-{run}",
        execution_machine=machines.execution._arn,  # noqa: SLF001  # the ARNs the ASL passes
        workflow_machine=machines.workflow._arn,  # noqa: SLF001
        training_machine=machines.training._arn,  # noqa: SLF001
    )
    return campaign_runs.plan_round(task, stores, machines.trials)


def _complete(stores: Stores, execution_id: str, kpis: dict[str, float]) -> None:
    stores.executions.mark_started(execution_id)
    stores.executions.mark_running(execution_id)
    shaped = {name: {"name": name, "value": value, "unit": None} for name, value in kpis.items()}
    stores.executions.finish(execution_id, [], kpis=shaped)


def _finish(stores: Stores, execution_id: str, branin: float) -> None:
    """A STARTED execution runs and completes with ``branin``."""
    stores.executions.mark_running(execution_id)
    stores.executions.finish(
        execution_id, [], kpis={"branin": {"name": "branin", "value": branin, "unit": None}}
    )


def _fail(stores: Stores, execution_id: str) -> None:
    stores.executions.fail(execution_id, JobError(type="AlgorithmError", message="it broke"))


def test_first_round_asks_a_batch_and_accepts_its_executions(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()

    plan = _plan(stores, machines, campaign_id)

    assert plan.next == "run" and [r.number for r in plan.trials] == [1, 2]
    trials = stores.campaigns.trials(campaign_id)
    assert [t.status for t in trials] == [TrialStatus.RUNNING] * 2
    for run, trial in zip(plan.trials, trials, strict=True):
        execution = stores.executions.get(run.execution_id)
        assert execution.status.value == "PENDING" and trial.execution_id == run.execution_id
        assert execution.additional_parameters["x"] == trial.parameters["x"]
        assert run.input == {"execution_id": run.execution_id, "device": "cpu"}


def test_a_retried_round_launches_the_same_executions(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()
    first = _plan(stores, machines, campaign_id)

    again = _plan(stores, machines, campaign_id)

    assert [r.execution_id for r in again.trials] == [r.execution_id for r in first.trials]
    assert len(stores.executions.list_recent(TENANT, 100, None)[0]) == 2
    assert len(stores.campaigns.trials(campaign_id)) == 2


def test_a_superseded_run_ends_without_touching_the_campaign(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()

    plan = _plan(stores, machines, campaign_id, run=7)

    assert plan.next == "end"
    assert stores.campaigns.trials(campaign_id) == []


def test_ended_executions_are_told_and_the_next_batch_asked(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()
    first = _plan(stores, machines, campaign_id)
    for run, value in zip(first.trials, (5.0, 3.0), strict=True):
        _complete(stores, run.execution_id, {"branin": value, "other": 1.0})

    plan = _plan(stores, machines, campaign_id)

    assert [r.number for r in plan.trials] == [3, 4]
    trials = stores.campaigns.trials(campaign_id)
    assert [t.status for t in trials[:2]] == [TrialStatus.COMPLETED] * 2
    assert trials[1].kpis == {"branin": 3.0, "other": 1.0}
    record = stores.campaigns.get(campaign_id)
    assert record.completed_trials == 2 and record.has_plot
    assert stores.objects.get(campaign_plot_key(TENANT, campaign_id)).startswith(PNG_MAGIC)
    best = campaigns.best_of(record.spec, trials)
    assert best is not None and best.trial == 2 and best.kpis == {"branin": 3.0, "other": 1.0}


def test_a_failed_trial_is_recorded_and_the_campaign_goes_on(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()
    first = _plan(stores, machines, campaign_id)
    _complete(stores, first.trials[0].execution_id, {"branin": 3.0})
    _fail(stores, first.trials[1].execution_id)

    plan = _plan(stores, machines, campaign_id)

    trials = stores.campaigns.trials(campaign_id)
    assert [t.status for t in trials[:2]] == [TrialStatus.COMPLETED, TrialStatus.FAILED]
    assert trials[1].error is not None and "it broke" in trials[1].error
    assert plan.next == "run" and stores.campaigns.get(campaign_id).failed_trials == 1


def test_a_completed_trial_without_its_objective_fails_the_campaign_at_once(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()
    first = _plan(stores, machines, campaign_id)
    _complete(stores, first.trials[0].execution_id, {"other": 1.0})

    plan = _plan(stores, machines, campaign_id)

    record = stores.campaigns.get(campaign_id)
    trials = stores.campaigns.trials(campaign_id)
    assert trials[0].error == "KPI 'branin' was not reported"
    assert plan.next == "end" and record.status is CampaignStatus.FAILED
    assert "trial 1: KPI 'branin' was not reported (it reported other)" in record.errors[-1]
    assert trials[1].status is TrialStatus.STOPPED and len(trials) == 2


def test_more_failures_than_max_failures_fail_the_campaign(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create(max_failures=1)
    first = _plan(stores, machines, campaign_id)
    for run in first.trials:
        _fail(stores, run.execution_id)

    plan = _plan(stores, machines, campaign_id)

    record = stores.campaigns.get(campaign_id)
    assert plan.next == "end" and plan.status is CampaignStatus.FAILED
    assert record.status is CampaignStatus.FAILED and not record.runner_active
    assert "max_failures (1)" in record.errors[-1]
    assert len(stores.campaigns.trials(campaign_id)) == 2


def test_a_grid_runs_every_point_once_then_completes(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()

    for _ in range(10):
        plan = _plan(stores, machines, campaign_id)
        if plan.next == "end":
            break
        for run in plan.trials:
            params = stores.executions.get(run.execution_id).additional_parameters
            _complete(stores, run.execution_id, {"branin": params["x"] ** 2 + params["y"]})

    trials = stores.campaigns.trials(campaign_id)
    assert plan.status is CampaignStatus.COMPLETED
    assert sorted((t.parameters["x"], t.parameters["y"]) for t in trials) == sorted(
        (x, y) for x in (-3.0, 0.0, 3.0) for y in (2.0, 12.0)
    )
    assert campaigns.best_of(stores.campaigns.get(campaign_id).spec, trials).parameters == {
        "x": 0.0,
        "y": 2.0,
    }  # type: ignore[union-attr]


def test_a_paused_campaign_ends_its_run_and_a_resume_collects_the_trials(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()
    first = _plan(stores, machines, campaign_id)
    campaigns.pause(campaign_id, TENANT, stores)

    paused = _plan(stores, machines, campaign_id)
    for run in first.trials:
        _complete(stores, run.execution_id, {"branin": 1.0})
    campaigns.resume(campaign_id, TENANT, stores, machines)
    resumed = _plan(stores, machines, campaign_id, run=2)

    assert paused.next == "end" and paused.status is CampaignStatus.PAUSED
    assert [r.number for r in resumed.trials] == [3, 4]
    assert stores.campaigns.get(campaign_id).completed_trials == 2


def test_a_paused_run_collects_its_started_trials_as_they_end_then_ends(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()
    first = _plan(stores, machines, campaign_id)
    for run in first.trials:
        stores.executions.mark_started(run.execution_id)
    campaigns.pause(campaign_id, TENANT, stores)

    waiting = _plan(stores, machines, campaign_id)
    _finish(stores, first.trials[0].execution_id, 2.0)
    still = _plan(stores, machines, campaign_id)
    shown_meanwhile = [t.status for t in stores.campaigns.trials(campaign_id)]
    _finish(stores, first.trials[1].execution_id, 1.0)
    ended = _plan(stores, machines, campaign_id)

    assert (waiting.next, still.next, ended.next) == ("wait", "wait", "end")
    assert waiting.trials == still.trials == []  # nothing new starts while paused
    assert shown_meanwhile == [TrialStatus.COMPLETED, TrialStatus.RUNNING]
    record = stores.campaigns.get(campaign_id)
    assert record.status is CampaignStatus.PAUSED and not record.runner_active
    assert record.completed_trials == 2 and record.trial_count == 2


def test_a_round_adds_no_trial_once_the_campaign_is_cancelled(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()
    first = _plan(stores, machines, campaign_id)

    campaigns.cancel(campaign_id, TENANT, stores, machines)
    plan = _plan(stores, machines, campaign_id)

    assert plan.next == "end" and plan.status is CampaignStatus.CANCELLED
    trials = stores.campaigns.trials(campaign_id)
    assert [t.status for t in trials] == [TrialStatus.STOPPED] * 2
    assert [stores.executions.get(r.execution_id).status.value for r in first.trials] == ["STOPPED"] * 2


def test_settle_fails_an_execution_whose_run_never_started(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()
    run = _plan(stores, machines, campaign_id).trials[0]
    task = SettleCampaignTrialTask(
        action="settle_campaign_trial",
        campaign_id=campaign_id,
        number=run.number,
        execution_id=run.execution_id,
        error={"Error": "States.Runtime", "Cause": "could not start"},
    )

    campaign_runs.settle_trial(task, stores)
    _plan(stores, machines, campaign_id)

    execution = stores.executions.get(run.execution_id)
    assert execution.status.value == "FAILED" and execution.error is not None
    assert stores.campaigns.trials(campaign_id)[0].status is TrialStatus.FAILED


def test_mark_failed_ends_the_campaign_with_the_cause(
    stores: Stores, machines: campaigns.Machines, create: Any
) -> None:
    campaign_id = create()
    task = MarkCampaignFailedTask(
        action="mark_campaign_failed",
        campaign_id=campaign_id,
        run=f"{campaign_id}-1",
        error={"Error": "Lambda.Unknown", "Cause": "out of memory"},
    )

    plan = campaign_runs.mark_failed(task, stores)

    record = stores.campaigns.get(campaign_id)
    assert plan.status is CampaignStatus.FAILED and record.status is CampaignStatus.FAILED
    assert "out of memory" in record.errors[-1]


# A campaign over a workflow template: each trial is a whole workflow of the tenant.
def _workflow_campaign(stores: Stores, machines: campaigns.Machines, branin_id: str, input_id: str) -> str:
    template = {
        "name": "score",
        "steps": [
            {
                "id": "score",
                "task_type": "execution",
                "config": {
                    "algorithm_id": branin_id,
                    "input_dataset_ids": [input_id],
                    "additional_parameters": {"y": 2.0},
                },
            }
        ],
    }
    body = {
        "workflow": template,
        "kind": "grid",
        "search_space": {"score.x": {"values": [-3.0, 3.0]}},
        "objectives": [{"name": "score.branin"}],
        "budget": 2,
        "batch_size": 2,
    }
    return campaigns.create(CampaignCreate.model_validate(body), TENANT, stores, machines).campaign_id


def _finish_workflow(stores: Stores, workflow_id: str, branin: float, status: str = "COMPLETED") -> None:
    """The workflow's one step ran an execution that reported ``branin``; the workflow ended."""
    workflow = stores.workflows.get(workflow_id)
    (step,) = stores.workflows.steps(workflow_id)
    request = ExecutionCreate.model_validate(step.definition.config)
    execution_id = launch.execute(request, TENANT, stores, None)
    _complete(stores, execution_id, {"branin": branin})
    stores.workflows.update_step(step, {"status": "COMPLETED", "task_id": execution_id})
    stores.workflows.transition(workflow.workflow_id, WorkflowStatus(status))


def test_a_workflow_campaign_runs_each_trial_as_a_workflow_with_its_values(
    stores: Stores, machines: campaigns.Machines, branin_id: str, input_id: str
) -> None:
    campaign_id = _workflow_campaign(stores, machines, branin_id, input_id)

    first = _plan(stores, machines, campaign_id)

    assert first.next == "wait" and first.trials == []  # workflows run themselves; no Map child runs
    trials = stores.campaigns.trials(campaign_id)
    assert [t.status for t in trials] == [TrialStatus.RUNNING] * 2
    for trial, x in zip(trials, (-3.0, 3.0), strict=True):
        assert trial.workflow_id is not None and trial.execution_id is None
        assert re.fullmatch(UUID4_PATTERN, trial.workflow_id)  # as the API's routes take ids
        workflow = stores.workflows.get(trial.workflow_id, TENANT)
        (step,) = stores.workflows.steps(trial.workflow_id)
        assert workflow.status is WorkflowStatus.RUNNING and workflow.name == f"score #{trial.number}"
        assert step.definition.config["additional_parameters"] == {"y": 2.0, "x": x}
    # A retried round makes no second workflow per trial.
    assert _plan(stores, machines, campaign_id).trials == []
    assert len(stores.workflows.list_recent(TENANT, 10, None)[0]) == 2


def test_a_workflow_trial_reports_its_steps_kpis_and_a_failed_workflow_fails_it(
    stores: Stores, machines: campaigns.Machines, branin_id: str, input_id: str
) -> None:
    campaign_id = _workflow_campaign(stores, machines, branin_id, input_id)
    _plan(stores, machines, campaign_id)
    first, second = stores.campaigns.trials(campaign_id)
    _finish_workflow(stores, first.workflow_id or "", 4.5)
    stores.workflows.transition(
        second.workflow_id or "", WorkflowStatus.FAILED, {"errors": ["step score failed"]}
    )

    ended = _plan(stores, machines, campaign_id)

    first, second = stores.campaigns.trials(campaign_id)
    assert (first.status, first.kpis) == (TrialStatus.COMPLETED, {"score.branin": 4.5})
    assert (second.status, second.error) == (TrialStatus.FAILED, "step score failed")
    assert ended.next == "end" and ended.status is CampaignStatus.COMPLETED
    best = campaigns.best_of(stores.campaigns.get(campaign_id).spec, [first, second])
    assert best is not None and best.parameters == {"score.x": -3.0}


def test_cancelling_a_workflow_campaign_cancels_its_trials_workflows(
    stores: Stores, machines: campaigns.Machines, branin_id: str, input_id: str
) -> None:
    campaign_id = _workflow_campaign(stores, machines, branin_id, input_id)
    _plan(stores, machines, campaign_id)

    campaigns.cancel(campaign_id, TENANT, stores, machines)

    trials = stores.campaigns.trials(campaign_id)
    assert [t.status for t in trials] == [TrialStatus.STOPPED] * 2
    statuses = [stores.workflows.get(t.workflow_id or "", TENANT).status for t in trials]
    assert statuses == [WorkflowStatus.CANCELLED] * 2
