"""The workflow runner's plan task (services/workflow_runs.py) called directly: which steps a round
starts, what a retried task does, how ended jobs are collected, and the step cache."""

from __future__ import annotations

from typing import Any

import pytest
from stratus.errors import IllegalTransitionError
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.executions import ExecutionError
from stratus.models.workflow_runs import PlanRoundTask
from stratus.models.workflows import StepStatus, TaskType, WorkflowCreate, WorkflowStatus
from stratus.services import algorithms, files, workflow_runs, workflows
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.builtins import builtin_zip
from tests.conftest import make_hdf5

TENANT = "tenant-a"
MACHINES = {
    TaskType.EXECUTION: "arn:aws:states:us-east-1:123456789012:stateMachine:execution",
    TaskType.TRAINING: "arn:aws:states:us-east-1:123456789012:stateMachine:training",
}


@pytest.fixture
def threshold_id(stores: Stores, settings: Settings) -> str:
    return algorithms.deploy(builtin_zip("threshold"), BUILTIN_OWNER, stores, settings).algorithm_id


@pytest.fixture
def input_id(stores: Stores, settings: Settings) -> str:
    return files.store_upload(make_hdf5(), TENANT, stores, settings).file_id


def _workflow(stores: Stores, threshold_id: str, input_id: str, cache: bool = False) -> str:
    """generate → refine, stored RUNNING with run <id>-1 (as the API's start leaves it, minus the run)."""
    mapping = {
        "from_step": "generate",
        "from_field": "output_dataset_ids[0]",
        "to_field": "input_dataset_ids",
    }
    config: dict[str, Any] = {"algorithm_id": threshold_id}
    request = WorkflowCreate.model_validate(
        {
            "name": "pair",
            "steps": [
                {
                    "id": "generate",
                    "task_type": "execution",
                    "cache": cache,
                    "config": {**config, "input_dataset_ids": [input_id]},
                },
                {
                    "id": "refine",
                    "task_type": "execution",
                    "cache": cache,
                    "config": config,
                    "depends_on": ["generate"],
                    "input_mappings": [mapping],
                },
            ],
        }
    )
    workflow_id = workflows.create(request, TENANT, stores, machines=None, start=False)  # type: ignore[arg-type]
    stores.workflows.transition(
        workflow_id,
        WorkflowStatus.RUNNING,
        {"runner": f"{workflow_id}-1", "runner_active": True, "run_count": 1},
    )
    return workflow_id


def _plan(stores: Stores, workflow_id: str, run: str | None = None) -> Any:
    task = PlanRoundTask(
        action="plan_workflow_round",
        workflow_id=workflow_id,
        run=run or f"{workflow_id}-1",
        machines=MACHINES,
    )
    return workflow_runs.plan_round(task, stores)


def _complete(stores: Stores, execution_id: str, outputs: list[str]) -> None:
    stores.executions.mark_started(execution_id)
    stores.executions.mark_running(execution_id)
    stores.executions.finish(execution_id, outputs)


def test_plan_starts_only_the_ready_steps(stores: Stores, threshold_id: str, input_id: str) -> None:
    workflow_id = _workflow(stores, threshold_id, input_id)

    plan = _plan(stores, workflow_id)

    assert plan.next == "run" and [s.step_id for s in plan.steps] == ["generate"]
    run = plan.steps[0]
    assert run.machine == MACHINES[TaskType.EXECUTION]
    assert run.run_arn == f"arn:aws:states:us-east-1:123456789012:execution:execution:{run.task_id}"
    job = stores.executions.get(run.task_id)
    assert job.input_dataset_ids == [input_id] and job.status.value == "PENDING"


def test_a_retried_plan_launches_the_same_jobs_again(
    stores: Stores, threshold_id: str, input_id: str
) -> None:
    workflow_id = _workflow(stores, threshold_id, input_id)
    first = _plan(stores, workflow_id)

    again = _plan(stores, workflow_id)

    assert [s.task_id for s in again.steps] == [s.task_id for s in first.steps]
    assert len(stores.executions.list_recent(TENANT, 100, None)[0]) == 1


def test_a_superseded_run_ends_without_touching_the_workflow(
    stores: Stores, threshold_id: str, input_id: str
) -> None:
    workflow_id = _workflow(stores, threshold_id, input_id)

    plan = _plan(stores, workflow_id, run=f"{workflow_id}-0")

    assert plan.next == "end"
    assert [s.status for s in stores.workflows.steps(workflow_id)] == [StepStatus.PENDING] * 2


def test_a_completed_job_feeds_its_output_to_the_next_step(
    stores: Stores, threshold_id: str, input_id: str, settings: Settings
) -> None:
    workflow_id = _workflow(stores, threshold_id, input_id)
    generate = _plan(stores, workflow_id).steps[0]
    output_id = files.store_upload(make_hdf5(), TENANT, stores, settings).file_id
    _complete(stores, generate.task_id, [output_id])

    plan = _plan(stores, workflow_id)

    assert [s.step_id for s in plan.steps] == ["refine"]
    assert stores.executions.get(plan.steps[0].task_id).input_dataset_ids == [output_id]
    record = stores.workflows.get(workflow_id)
    assert record.completed_steps == 1


def test_a_failed_job_fails_the_step_and_ends_the_workflow_failed(
    stores: Stores, threshold_id: str, input_id: str
) -> None:
    workflow_id = _workflow(stores, threshold_id, input_id)
    generate = _plan(stores, workflow_id).steps[0]
    stores.executions.fail(generate.task_id, ExecutionError(type="ValueError", message="bad data"))

    plan = _plan(stores, workflow_id)

    assert plan.next == "end" and plan.status is WorkflowStatus.FAILED
    steps = {s.step_id: s for s in stores.workflows.steps(workflow_id)}
    assert steps["generate"].status is StepStatus.FAILED and "bad data" in (
        steps["generate"].error_message or ""
    )
    assert steps["refine"].status is StepStatus.SKIPPED
    assert stores.workflows.get(workflow_id).errors == [f"step generate: {steps['generate'].error_message}"]


def test_a_cached_step_reuses_outputs_until_one_is_deleted(
    stores: Stores, threshold_id: str, input_id: str, settings: Settings
) -> None:
    first = _workflow(stores, threshold_id, input_id, cache=True)
    generate = _plan(stores, first).steps[0]
    # Other bytes than the input's: the same bytes would make refine's key generate's (and hit).
    output_id = files.store_upload(make_hdf5(seed=1), TENANT, stores, settings).file_id
    _complete(stores, generate.task_id, [output_id])
    _plan(stores, first)  # collects generate: a cache entry now points at its output
    second = _workflow(stores, threshold_id, input_id, cache=True)

    reused = _plan(stores, second)
    stores.files.delete(output_id, TENANT)  # gone (deleted or expired)
    third = _workflow(stores, threshold_id, input_id, cache=True)
    missed = _plan(stores, third)

    cached = stores.workflows.steps(second)[0]
    assert cached.status is StepStatus.COMPLETED and cached.cached_from == f"{first}/generate"
    assert cached.result == {"output_dataset_ids": [output_id]}
    assert [s.step_id for s in reused.steps] == ["refine"]  # generate's dependents start at once
    assert [s.step_id for s in missed.steps] == ["generate"]


def test_a_step_does_not_start_once_its_workflow_was_paused(
    stores: Stores, threshold_id: str, input_id: str
) -> None:
    workflow_id = _workflow(stores, threshold_id, input_id)
    record = stores.workflows.get(workflow_id)  # as a round read it, before the pause came in
    step = stores.workflows.steps(workflow_id)[0]
    stores.workflows.transition(workflow_id, WorkflowStatus.PAUSED)

    with pytest.raises(IllegalTransitionError, match="paused or cancelled"):
        workflow_runs._start_step(record, step, [step], MACHINES, stores)

    assert stores.workflows.steps(workflow_id)[0].status is StepStatus.PENDING
    (job,) = stores.executions.list_recent(TENANT, 10, None)[0]
    assert job.status.value == "FAILED"
    assert stores.quotas.usage(TENANT).queued == set()
