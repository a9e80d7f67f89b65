"""The `webhooks` Lambda: deliver queued webhook events (SQS batch; failed ones are retried by the queue)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from stratus.observability import logger, metrics, tracer
from stratus.services import webhooks
from stratus.settings import get_settings
from stratus.stores import build_stores

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from stratus.settings import Settings
    from stratus.stores import Stores

# Reports each failed record (ReportBatchItemFailures): only those come back, the others are deleted. A
# batch that failed whole is reported the same way, not raised: each record's backoff is already set.
PROCESSOR = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _deliver(record: SQSRecord, stores: Stores, settings: Settings) -> None:
    logger.append_keys(message_id=record.message_id)
    webhooks.deliver_received(
        record.body,
        record.receipt_handle,
        int(record.attributes.approximate_receive_count),
        stores,
        webhooks.post,
        settings.allow_private_webhook_targets,
        settings.webhook_retry_base_seconds,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Deliver each record's event; answers the batch item failures."""
    settings = get_settings()
    deliver = partial(_deliver, stores=build_stores(settings), settings=settings)
    return process_partial_response(event=event, record_handler=deliver, processor=PROCESSOR, context=context)
