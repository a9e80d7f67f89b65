"""The `steps` Lambda: the execution state machine's small, idempotent tasks (ids in, ids out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from stratus.models.executions import ExecutionTask, ExecutionTaskResult
from stratus.observability import logger, metrics, tracer
from stratus.services.executions import run_task
from stratus.settings import get_settings
from stratus.stores import build_stores

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

TASKS: TypeAdapter[ExecutionTask] = TypeAdapter(ExecutionTask)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run the task the event's `action` names; returns the execution id and its status."""
    task = TASKS.validate_python(event)
    logger.append_keys(execution_id=task.execution_id, action=task.action)
    record = run_task(task, build_stores(get_settings()))
    return ExecutionTaskResult(execution_id=record.execution_id, status=record.status).model_dump(mode="json")
