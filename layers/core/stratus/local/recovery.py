"""Make a restored local stack consistent: what could not survive its stop (the state machine runs and
Batch jobs of live jobs, workflows and campaigns) ends as the app ends it, through the same services and
stores."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from stratus.errors import IllegalTransitionError
from stratus.models.campaigns import CampaignStatus
from stratus.models.environments import EnvironmentStatus
from stratus.models.jobs import JobStatus, TaskFailure, is_terminal
from stratus.models.workflow_runs import MarkWorkflowFailedTask
from stratus.models.workflows import StepStatus, WorkflowStatus
from stratus.services import executions, holds, trainings, workflow_runs
from stratus.stores.base import from_item, record_key
from stratus.stores.environments import environment_key
from stratus.stores.quotas import quota_key

if TYPE_CHECKING:
    from collections.abc import Iterable

    from stratus.stores import Stores
    from stratus.stores.base import TenantRecordStore

# The error a job or workflow that was live when the stack stopped ends with (its `type`, and message).
STOPPED_ERROR = "LocalStackStoppedError"
STOPPED_MESSAGE = "the local stack stopped while this job ran"
# A campaign's runner is gone, not its trials' results: it waits PAUSED, and a resume goes on (its trials
# that ran end FAILED with STOPPED_MESSAGE, and count as failures).
CAMPAIGN_STOPPED_MESSAGE = "the local stack stopped while this campaign ran; resume it to go on"
BUILD_STOPPED_MESSAGE = (
    "the local stack stopped while this environment was being built; deploying the algorithm again "
    "builds it again"
)
_DESERIALIZER = TypeDeserializer()


@dataclass(frozen=True)
class Recovered:
    """What recovery ended FAILED, and the tenants whose job limits it set free."""

    executions: int = 0
    trainings: int = 0
    workflows: int = 0
    campaigns: int = 0
    tenants: int = 0
    environments: int = 0

    @property
    def jobs(self) -> int:
        """Executions and trainings marked FAILED."""
        return self.executions + self.trainings


def recover(items: Iterable[dict[str, Any]], stores: Stores) -> Recovered:
    """End every live job and workflow among restored ``items`` (DynamoDB JSON) FAILED, as their state
    machines' failure tasks would, then free the job limits of every tenant with a quota item."""
    values = [from_item({k: _DESERIALIZER.deserialize(v) for k, v in item.items()}) for item in items]
    failure = TaskFailure.model_validate({"Error": STOPPED_ERROR, "Cause": STOPPED_MESSAGE})
    failed_executions = _live_jobs(values, stores.executions)
    for execution_id in failed_executions:
        executions.mark_failed(execution_id, failure, stores)
    failed_trainings = _live_jobs(values, stores.trainings)
    for training_id in failed_trainings:
        trainings.mark_failed(training_id, failure, stores)
    # After their jobs: a workflow's steps are executions and trainings.
    workflows = [v for v in values if _is_record(v, stores.workflows) and _is_running(v)]
    for workflow in workflows:
        _fail_workflow(str(workflow["workflow_id"]), str(workflow["runner"]), stores)
    campaigns = [v for v in values if _is_record(v, stores.campaigns) and _has_runner(v)]
    for campaign in campaigns:
        _pause_campaign(campaign, stores)
    # Their build jobs are gone too: a later deploy of the same dependencies restarts a FAILED build.
    builds = [str(v["digest"]) for v in values if _is_building(v)]
    for digest in builds:
        with contextlib.suppress(IllegalTransitionError):
            stores.environments.mark_failed(digest, BUILD_STOPPED_MESSAGE)
    tenants = [tenant for v in values if (tenant := _tenant_of_quota(v)) is not None]
    for tenant in tenants:
        _free_slots(tenant, stores)
    return Recovered(
        executions=len(failed_executions),
        trainings=len(failed_trainings),
        workflows=len(workflows),
        campaigns=len(campaigns),
        tenants=len(tenants),
        environments=len(builds),
    )


def _is_record(value: dict[str, Any], store: TenantRecordStore[Any]) -> bool:
    """Whether a restored item is a record of ``store``'s kind (not a step, log or lookup item)."""
    if store.id_field not in value:
        return False
    return {"pk": value.get("pk"), "sk": value.get("sk")} == record_key(
        store.kind, str(value[store.id_field])
    )


def _live_jobs(values: list[dict[str, Any]], store: TenantRecordStore[Any]) -> list[str]:
    return [
        str(v[store.id_field])
        for v in values
        if _is_record(v, store) and not is_terminal(JobStatus(str(v.get("status"))))
    ]


def _is_building(value: dict[str, Any]) -> bool:
    if "digest" not in value:
        return False
    key = {"pk": value.get("pk"), "sk": value.get("sk")}
    return key == environment_key(str(value["digest"])) and value.get("status") == EnvironmentStatus.BUILDING


def _is_running(workflow: dict[str, Any]) -> bool:
    # A PAUSED workflow whose run was still finishing its steps had a run too; PENDING ones never had.
    status = WorkflowStatus(str(workflow.get("status")))
    active = status is WorkflowStatus.PAUSED and bool(workflow.get("runner_active"))
    return (status is WorkflowStatus.RUNNING or active) and workflow.get("runner") is not None


def _fail_workflow(workflow_id: str, runner: str, stores: Stores) -> None:
    """Its RUNNING steps end FAILED (a resume runs them again), then the workflow, as its runner's Catch
    does."""
    for step in stores.workflows.steps(workflow_id):
        if step.status is StepStatus.RUNNING:
            with contextlib.suppress(IllegalTransitionError):
                stores.workflows.update_step(
                    step,
                    {
                        "status": StepStatus.FAILED.value,
                        "error_message": STOPPED_MESSAGE,
                        "completed_at": stores.clock(),
                    },
                    allowed=[StepStatus.RUNNING],
                )
    task = MarkWorkflowFailedTask(
        action="mark_workflow_failed",
        workflow_id=workflow_id,
        run=runner,
        error={"Error": STOPPED_ERROR, "Cause": STOPPED_MESSAGE},
    )
    workflow_runs.mark_failed(task, stores)


def _has_runner(campaign: dict[str, Any]) -> bool:
    # A campaign's run drives it while RUNNING, and finishes a round after a pause (runner_active).
    status = CampaignStatus(str(campaign.get("status")))
    active = status is CampaignStatus.PAUSED and bool(campaign.get("runner_active"))
    return (status is CampaignStatus.RUNNING or active) and campaign.get("runner") is not None


def _pause_campaign(campaign: dict[str, Any], stores: Stores) -> None:
    """PAUSED without a run, conditional on the run read: a resume starts a new one."""
    errors = [*campaign.get("errors", []), CAMPAIGN_STOPPED_MESSAGE]
    with contextlib.suppress(IllegalTransitionError):
        stores.campaigns.transition(
            str(campaign["campaign_id"]),
            CampaignStatus.PAUSED,
            {"runner_active": False, "errors": errors},
            sources=[CampaignStatus.RUNNING, CampaignStatus.PAUSED],
            condition=stores.campaigns.runner_is(str(campaign["runner"])),
        )


def _tenant_of_quota(value: dict[str, Any]) -> str | None:
    """The tenant of a restored quota item, or None for any other item."""
    tenant = str(value.get("pk", "")).partition("#")[2]
    return tenant if quota_key(tenant) == {"pk": value.get("pk"), "sk": value.get("sk")} else None


def _free_slots(tenant: str, stores: Stores) -> None:
    """Release the members whose jobs ended (all of them, once the live ones failed) and forget waiting
    entries of jobs no longer queued, as services/quotas.py repairs a lost release."""
    usage = stores.quotas.usage(tenant)
    members = usage.queued | usage.running
    ended = {member for member in members if holds.has_ended(member, stores)}
    stores.quotas.release(tenant, ended)
    stores.quotas.forget_waiting(tenant, set(usage.waiting) - (members - ended))
