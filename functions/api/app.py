"""The `api` Lambda: the FastAPI app behind API Gateway's HTTP API, through Mangum."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mangum import Mangum
from stratus.api import create_app
from stratus.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Built once per cold start and reused by every warm invocation.
_adapter = Mangum(create_app(), lifespan="off")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Serve one API Gateway v2 request."""
    return _adapter(event, context)  # type: ignore[arg-type]
