"""The `steps` Lambda: the execution, training and workflow machines' small, idempotent tasks (ids in,
ids out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, TypeAdapter
from stratus.models.executions import ExecutionTaskResult, FinalizeTask, MarkFailedTask, MarkStartedTask
from stratus.models.trainings import (
    FinalizeTrainingTask,
    MarkTrainingFailedTask,
    PrepareTrainingTask,
    SelectBestTask,
)
from stratus.models.workflow_runs import MarkWorkflowFailedTask, PlanRoundTask, SettleStepTask
from stratus.observability import logger, metrics, tracer
from stratus.services import executions, trainings, workflow_runs
from stratus.settings import get_settings
from stratus.stores import build_stores

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# One union over every kind: the `action` names the task, and with it the kind.
TASKS: TypeAdapter[Any] = TypeAdapter(
    Annotated[
        MarkStartedTask
        | FinalizeTask
        | MarkFailedTask
        | PrepareTrainingTask
        | SelectBestTask
        | FinalizeTrainingTask
        | MarkTrainingFailedTask
        | PlanRoundTask
        | SettleStepTask
        | MarkWorkflowFailedTask,
        Field(discriminator="action"),
    ]
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run the task the event's `action` names; returns the job's id, status (and a chain's next round)."""
    task = TASKS.validate_python(event)
    stores = build_stores(get_settings())
    if isinstance(task, MarkStartedTask | FinalizeTask | MarkFailedTask):
        logger.append_keys(execution_id=task.execution_id, action=task.action)
        record = executions.run_task(task, stores)
        return ExecutionTaskResult.of(record).model_dump(mode="json")
    if isinstance(task, PlanRoundTask | SettleStepTask | MarkWorkflowFailedTask):
        logger.append_keys(workflow_id=task.workflow_id, action=task.action)
        return workflow_runs.run_task(task, stores).model_dump(mode="json", exclude={"definition"})
    logger.append_keys(training_id=task.training_id, action=task.action)
    return trainings.run_task(task, stores).model_dump(mode="json")
