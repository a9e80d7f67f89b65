"""The workflow state machine's tasks and answers (statemachines/workflow.asl.json): ids in, ids out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from stratus.models.jobs import StrictTask
from stratus.models.workflows import TaskType, WorkflowStatus


class PlanRoundTask(StrictTask):
    """Collect the ended steps, then start the next ready ones (or end the run)."""

    action: Literal["plan_workflow_round"]
    workflow_id: str = Field(min_length=1, max_length=128)
    run: str = Field(min_length=1, max_length=128, description="The run's name ($$.Execution.Name)")
    machines: dict[TaskType, str] = Field(description="The state machine ARN that runs each task type")


class SettleStepTask(StrictTask):
    """A step's child run ended without its job ending (it could not start, or timed out): end the job."""

    action: Literal["settle_workflow_step"]
    workflow_id: str = Field(min_length=1, max_length=128)
    step_id: str = Field(min_length=1, max_length=128)
    task_id: str = Field(min_length=1, max_length=128)
    kind: TaskType
    error: dict[str, Any] = Field(default_factory=dict)


class MarkWorkflowFailedTask(StrictTask):
    """A state of the runner failed: the workflow ends FAILED with the cause."""

    action: Literal["mark_workflow_failed"]
    workflow_id: str = Field(min_length=1, max_length=128)
    run: str = Field(min_length=1, max_length=128)
    error: dict[str, Any] = Field(default_factory=dict)


WorkflowTask = Annotated[
    PlanRoundTask | SettleStepTask | MarkWorkflowFailedTask, Field(discriminator="action")
]


class StepRun(BaseModel):
    """One child run for the Map to start: the job's id (the child run's name), its state machine and
    input, and the run's ARN (to stop it after a timeout)."""

    step_id: str
    task_id: str
    kind: TaskType
    machine: str
    run_arn: str
    input: dict[str, Any]
    timeout_seconds: int


class RoundPlan(BaseModel):
    """The plan task's answer: what the runner does next."""

    workflow_id: str
    next: Literal["run", "wait", "end"]
    status: WorkflowStatus
    steps: list[StepRun] = Field(default_factory=list)


class WorkflowInput(BaseModel):
    """The workflow state machine's input."""

    workflow_id: str
