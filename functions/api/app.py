"""The `api` Lambda: the FastAPI app behind API Gateway's HTTP API, through Mangum."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from stratus.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mangum import Mangum


@cache
def _adapter() -> Mangum:
    # Built by the first invocation and reused by every warm one, not at import (issue 9): FastAPI, the
    # routes and boto3's clients are most of a cold start, which the first request now pays instead of
    # the init phase (bench/cold_start.py prints both halves).
    from mangum import Mangum
    from stratus.api import create_app

    return Mangum(create_app(), lifespan="off")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Serve one API Gateway v2 request."""
    return _adapter()(event, context)  # type: ignore[arg-type]
