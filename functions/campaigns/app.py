"""The `campaigns` Lambda: the campaign machine's tasks (ids in, ids out). A container image, since the
optimizers need optuna, scipy and torch (functions/campaigns/Dockerfile)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from stratus import aws
from stratus.models.campaign_runs import CampaignTask
from stratus.observability import logger, metrics, tracer
from stratus.services import campaign_runs, workflows
from stratus.settings import get_settings
from stratus.stores import StateMachineStore, build_stores

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

TASKS: TypeAdapter[Any] = TypeAdapter(CampaignTask)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run the task the event's `action` names; returns the round's plan (or the trial)."""
    task = TASKS.validate_python(event)
    logger.append_keys(campaign_id=task.campaign_id, action=task.action)
    stores = build_stores(get_settings())
    # The machines come with the plan task (the campaign machine's substitutions); the other tasks never
    # start or stop a run.
    sfn = aws.client("stepfunctions")
    arns = (getattr(task, f"{kind}_machine", "") for kind in ("workflow", "execution", "training"))
    machines = workflows.Machines(*(StateMachineStore(sfn, arn) for arn in arns))
    return campaign_runs.run_task(task, stores, machines).model_dump(mode="json")
