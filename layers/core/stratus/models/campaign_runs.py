"""The campaign state machine's tasks and answers (statemachines/campaign.asl.json): ids in, ids out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from stratus.models.campaigns import CampaignStatus
from stratus.models.jobs import StrictTask


class PlanCampaignRoundTask(StrictTask):
    """Collect the ended trials, then ask the optimizer for the next ones and accept their executions
    (or end the run)."""

    action: Literal["plan_campaign_round"]
    campaign_id: str = Field(min_length=1, max_length=128)
    run: str = Field(min_length=1, max_length=128, description="The run's name ($$.Execution.Name)")
    execution_machine: str = Field(min_length=1, max_length=2048, description="The execution machine's ARN")
    # A workflow campaign's trials are whole workflows: started, and cancelled, through these.
    workflow_machine: str = Field(min_length=1, max_length=2048, description="The workflow machine's ARN")
    training_machine: str = Field(min_length=1, max_length=2048, description="The training machine's ARN")


class SettleCampaignTrialTask(StrictTask):
    """A trial's child run ended without its execution ending (it could not start): end the execution."""

    action: Literal["settle_campaign_trial"]
    campaign_id: str = Field(min_length=1, max_length=128)
    number: int = Field(ge=1)
    execution_id: str = Field(min_length=1, max_length=128)
    error: dict[str, Any] = Field(default_factory=dict)


class MarkCampaignFailedTask(StrictTask):
    """A state of the runner failed: the campaign ends FAILED with the cause."""

    action: Literal["mark_campaign_failed"]
    campaign_id: str = Field(min_length=1, max_length=128)
    run: str = Field(min_length=1, max_length=128)
    error: dict[str, Any] = Field(default_factory=dict)


CampaignTask = Annotated[
    PlanCampaignRoundTask | SettleCampaignTrialTask | MarkCampaignFailedTask, Field(discriminator="action")
]


class TrialRun(BaseModel):
    """One child run for the Map to start: the trial, its execution's id (the child run's name), the
    execution machine and its input, and the run's ARN (to stop it if it cannot be waited on)."""

    number: int
    execution_id: str
    machine: str
    run_arn: str
    input: dict[str, Any]


class CampaignRoundPlan(BaseModel):
    """The plan task's answer: what the runner does next."""

    campaign_id: str
    next: Literal["run", "wait", "end"]
    status: CampaignStatus
    trials: list[TrialRun] = Field(default_factory=list)


class CampaignInput(BaseModel):
    """The campaign state machine's input."""

    campaign_id: str
