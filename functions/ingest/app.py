"""The `ingest` Lambda: S3 ObjectCreated under uploads/ → validate HDF5 (or convert a CSV, JSON or XLSX
table to HDF5) → file READY or REJECTED."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratus.models import ObjectCreated
from stratus.observability import logger, metrics, tracer
from stratus.services.ingestion import ingest_objects
from stratus.settings import get_settings
from stratus.stores import build_stores

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Ingest every object the event names; returns each file's resulting status."""
    settings = get_settings()
    objects = ObjectCreated.from_s3_event(event)
    results = ingest_objects(objects, build_stores(settings), settings)
    return {"files": results}
