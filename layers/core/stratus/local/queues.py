"""SQS → Lambda event source mappings that poll as Lambda's do, off the sender's thread (patch 19).

moto 5.2.5 invokes a queue's function inside SendMessage itself (`Queue.add_message`), once per message,
ignoring partial batch failures: a webhook receiver that is down would hold up the job step that queued
the event, and a failed message would come back at once instead of after its visibility timeout. Here a
mapping's queue is no longer invoked by moto; a poller thread of the moto server receives batches (the
queue's visibility timeout, its redrive policy to the dead-letter queue) and invokes the function with
Lambda's event, deleting what succeeded: all of a batch, or (ReportBatchItemFailures) all but the failed
items; a batch whose invocation failed comes back when its visibility timeout ends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import wraps
from typing import Any

from moto.awslambda.models import EventSourceMapping, LambdaBackend, lambda_backends
from moto.sqs.models import Message, Queue, sqs_backends

PATCHED_MARK = "__stratus_patch__"
# Lambda's default batch size for SQS.
DEFAULT_BATCH_SIZE = 10
# How often an idle poller looks at its queues, and how many batches run at once (Lambda's concurrency).
IDLE_INTERVAL_S = 0.1
CONCURRENT_BATCHES = 4
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


def apply_queue_patches() -> None:
    """Stop moto from invoking SQS mappings' functions inside SendMessage; a QueuePoller does it."""
    if not getattr(LambdaBackend.create_event_source_mapping, PATCHED_MARK, False):
        LambdaBackend.create_event_source_mapping = _unhooked(  # type: ignore[method-assign]
            LambdaBackend.create_event_source_mapping
        )


def _unhooked(original: Callable[..., EventSourceMapping]) -> Callable[..., EventSourceMapping]:
    @wraps(original)
    def create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
        mapping = original(self, spec)
        queue = _queue_of(self.account_id, self.region_name, mapping.event_source_arn)
        if queue is not None:
            # Kept in the Lambda backend (listed, updated, deleted as before); only the queue forgets it.
            queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    setattr(create_event_source_mapping, PATCHED_MARK, True)
    return create_event_source_mapping


def _queue_of(account_id: str, region: str, arn: str) -> Queue | None:
    queues = sqs_backends[account_id][region].queues.values()
    return next((q for q in queues if q.queue_arn == arn), None)


def _sqs_mappings() -> Iterator[tuple[str, str, EventSourceMapping, Queue]]:
    for account_id, regions in list(lambda_backends.items()):
        for region, backend in list(regions.items()):
            for mapping in list(backend._event_source_mappings.values()):
                queue = _queue_of(account_id, region, mapping.event_source_arn)
                if queue is not None and mapping.enabled:
                    yield account_id, region, mapping, queue


class QueuePoller:
    """Lambda's SQS pollers for every enabled mapping of this process's moto."""

    def __init__(
        self, concurrency: int = CONCURRENT_BATCHES, idle_interval_s: float = IDLE_INTERVAL_S
    ) -> None:
        self._slots = threading.Semaphore(concurrency)
        self._idle_interval_s = idle_interval_s
        self._stopping = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sqs-batch")
        self._thread = threading.Thread(target=self._run, name="sqs-poller", daemon=True)

    def start(self) -> None:
        """Poll in a thread of its own until `stop`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the batches in flight."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self._executor.shutdown(wait=True)

    def poll_once(self) -> int:
        """Receive one batch per mapping and invoke its function, in this thread; the batches run."""
        ran = 0
        for account_id, region, mapping, queue in _sqs_mappings():
            batch = _receive(account_id, region, mapping, queue)
            if batch:
                _invoke(account_id, region, mapping, queue, batch)
                ran += 1
        return ran

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._dispatch():
                self._stopping.wait(self._idle_interval_s)

    def _dispatch(self) -> bool:
        dispatched = False
        for account_id, region, mapping, queue in _sqs_mappings():
            if not self._slots.acquire(blocking=False):
                return True  # every slot is busy: look again once one is free
            batch = _receive(account_id, region, mapping, queue)
            if not batch:
                self._slots.release()
                continue
            self._executor.submit(self._invoke_and_release, account_id, region, mapping, queue, batch)
            dispatched = True
        return dispatched

    def _invoke_and_release(
        self, account_id: str, region: str, mapping: EventSourceMapping, queue: Queue, batch: list[Message]
    ) -> None:
        try:
            _invoke(account_id, region, mapping, queue, batch)
        except Exception as exc:  # noqa: BLE001  # a poller thread that died would stop every delivery
            print(f"SQS batch for {mapping.function_arn} failed: {exc!r}", flush=True)  # noqa: T201
        finally:
            self._slots.release()


def _receive(account_id: str, region: str, mapping: EventSourceMapping, queue: Queue) -> list[Message]:
    # moto's receive honours visibility and moves a message past maxReceiveCount to the dead-letter queue.
    return sqs_backends[account_id][region].receive_message(
        queue.name,
        int(mapping.batch_size or DEFAULT_BATCH_SIZE),
        0,
        int(getattr(queue, "visibility_timeout", 0) or 0),
    )


def _invoke(
    account_id: str, region: str, mapping: EventSourceMapping, queue: Queue, batch: list[Message]
) -> None:
    function = lambda_backends[account_id][region].get_function(mapping.function_arn)
    event = {"Records": [_record(message, queue, region) for message in batch]}
    result, errored, _logs = function._invoke_lambda(event=json.dumps(event))
    failed = _failed_ids(result, errored, mapping, batch)
    sqs = sqs_backends[account_id][region]
    for message in batch:
        if message.id not in failed and message.receipt_handle is not None:
            sqs.delete_message(queue.name, message.receipt_handle)


def _failed_ids(result: str, errored: bool, mapping: EventSourceMapping, batch: list[Message]) -> set[str]:
    everything = {message.id for message in batch}
    if errored:
        return everything
    if REPORT_BATCH_ITEM_FAILURES not in (mapping.function_response_types or []):
        return set()
    try:
        response = json.loads(result or "null")
    except ValueError:
        return set()  # not a batch response: Lambda counts the batch as a success
    if not isinstance(response, dict):
        return set()
    failures = response.get("batchItemFailures") or []
    identifiers = {str(f.get("itemIdentifier") or "") for f in failures if isinstance(f, dict)}
    # As Lambda: an identifier that names no message of the batch fails the whole batch.
    return everything if not identifiers <= everything or len(identifiers) != len(failures) else identifiers


def _record(message: Message, queue: Queue, region: str) -> dict[str, Any]:
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": str(message.approximate_receive_count),
            "SentTimestamp": str(message.sent_timestamp),
            "SenderId": message.sender_id,
            "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
        },
        "messageAttributes": message.message_attributes,
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.queue_arn,
        "awsRegion": region,
    }
