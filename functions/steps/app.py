"""The `steps` Lambda: the execution and training machines' small, idempotent tasks (ids in, ids out)."""

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
from stratus.observability import logger, metrics, tracer
from stratus.services import executions, trainings
from stratus.settings import get_settings
from stratus.stores import build_stores

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# One union over both kinds: the `action` names the task, and with it the job kind.
TASKS: TypeAdapter[Any] = TypeAdapter(
    Annotated[
        MarkStartedTask
        | FinalizeTask
        | MarkFailedTask
        | PrepareTrainingTask
        | SelectBestTask
        | FinalizeTrainingTask
        | MarkTrainingFailedTask,
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
        return ExecutionTaskResult(execution_id=record.execution_id, status=record.status).model_dump(
            mode="json"
        )
    logger.append_keys(training_id=task.training_id, action=task.action)
    return trainings.run_task(task, stores).model_dump(mode="json")
