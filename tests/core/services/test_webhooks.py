"""Webhook use cases: URL checks, queueing a job's events, signed delivery with every attempt recorded."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest
from standardwebhooks import Webhook
from stratus import aws as aws_clients
from stratus.errors import InvalidInputError, WebhookDeliveryError
from stratus.models.executions import ExecutionRecord
from stratus.models.jobs import JobStatus
from stratus.models.webhooks import WebhookEvent, WebhookMessage
from stratus.services import executions, webhooks
from stratus.stores import Stores, WebhookSender

from tests.conftest import START, job_plan

EXECUTION_ID = "3f2b1c9e-8a7d-4e6f-9b1a-2c3d4e5f6a7b"
URL = "https://hooks.example.com/stratus"


@pytest.fixture
def queue_url(stores: Stores) -> str:
    return str(boto3.client("sqs").create_queue(QueueName="webhooks")["QueueUrl"])


@pytest.fixture
def queued(stores: Stores, queue_url: str) -> Stores:
    """The stores with a sender to a moto queue."""
    return dataclasses.replace(stores, webhook_sender=WebhookSender(aws_clients.client("sqs"), queue_url))


def _received(queue_url: str) -> list[WebhookMessage]:
    answer = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [WebhookMessage.model_validate_json(m["Body"]) for m in answer.get("Messages", [])]


def _execution(stores: Stores, events: list[WebhookEvent] | None = None, **fields: Any) -> ExecutionRecord:
    record = ExecutionRecord(
        execution_id=EXECUTION_ID,
        tenant="acme",
        algorithm_id="algorithm-1",
        input_dataset_ids=[],
        plan=job_plan(),
        created_at=START,
        expires_at=int(START) + 3600,
        webhook_url=URL,
        webhook_events=list(WebhookEvent) if events is None else events,
        **fields,
    )
    stores.executions.create(record)
    return record


class Receiver:
    """A poster that answers ``statuses`` in turn and keeps what it was sent."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        self.sent.append((url, body, dict(headers)))
        return self.statuses.pop(0)


def _unreachable(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    raise ConnectionRefusedError("connection refused")


def _resolving_to(address: str) -> Callable[[str], list[str]]:
    return lambda _host: [address]


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.10", "169.254.169.254", "::1", "fe80::1", "::ffff:127.0.0.1"],
)
def test_check_url_refuses_private_loopback_and_link_local_hosts(address: str) -> None:
    with pytest.raises(InvalidInputError, match="public addresses only"):
        webhooks.check_url(
            "http://receiver.example/hook", allow_private=False, resolve=_resolving_to(address)
        )


def test_check_url_refuses_a_loopback_literal() -> None:
    with pytest.raises(InvalidInputError):
        webhooks.check_url("http://127.0.0.1:8080/hook", allow_private=False)


def test_check_url_accepts_a_public_host() -> None:
    webhooks.check_url(URL, allow_private=False, resolve=_resolving_to("93.184.216.34"))


def test_check_url_accepts_loopback_when_private_targets_are_allowed() -> None:
    webhooks.check_url("http://127.0.0.1:8080/hook", allow_private=True)


def test_check_url_refuses_a_host_that_does_not_resolve() -> None:
    def fail(_host: str) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(InvalidInputError, match="does not resolve"):
        webhooks.check_url(URL, allow_private=False, resolve=fail)


def test_delivery_id_is_the_same_for_the_same_event() -> None:
    first = webhooks.delivery_id_of("execution", EXECUTION_ID, WebhookEvent.COMPLETED)

    again = webhooks.delivery_id_of("execution", EXECUTION_ID, WebhookEvent.COMPLETED)

    assert first == again != webhooks.delivery_id_of("execution", EXECUTION_ID, WebhookEvent.FAILED)


def test_notify_job_queues_a_subscribed_event(queued: Stores, queue_url: str) -> None:
    record = _execution(queued)

    assert webhooks.notify_job("execution", record, WebhookEvent.START, queued)

    (message,) = _received(queue_url)
    assert message.payload.type == "execution.start"
    assert message.payload.data.id == EXECUTION_ID
    assert message.url == URL
    assert message.delivery_id == webhooks.delivery_id_of("execution", EXECUTION_ID, WebhookEvent.START)


def test_notify_job_skips_an_event_not_subscribed(queued: Stores, queue_url: str) -> None:
    record = _execution(queued, events=[WebhookEvent.COMPLETED])

    assert not webhooks.notify_job("execution", record, WebhookEvent.START, queued)

    assert _received(queue_url) == []


def test_notify_job_survives_a_queue_that_fails(stores: Stores) -> None:
    sender = WebhookSender(aws_clients.client("sqs"), "https://sqs.us-east-1.amazonaws.com/123456789012/gone")
    broken = dataclasses.replace(stores, webhook_sender=sender)
    record = _execution(broken)

    assert not webhooks.notify_job("execution", record, WebhookEvent.START, broken)


def test_finalize_of_an_unfinished_execution_queues_failed(queued: Stores, queue_url: str) -> None:
    _execution(queued)

    record = executions.finalize(EXECUTION_ID, queued)

    (message,) = _received(queue_url)
    assert record.status is JobStatus.FAILED
    assert message.payload.type == "execution.failed"
    assert message.payload.data.error is not None


def _message(stores: Stores) -> WebhookMessage:
    record = _execution(stores, status=JobStatus.COMPLETED, progress=1.0)
    message = webhooks.WebhookMessage(
        delivery_id=webhooks.delivery_id_of("execution", EXECUTION_ID, WebhookEvent.COMPLETED),
        tenant=record.tenant,
        subject_kind="execution",
        subject_id=EXECUTION_ID,
        url=URL,
        payload=webhooks.WebhookPayload(
            type="execution.completed",
            timestamp=record.created_at,
            data=webhooks.WebhookEventData(
                id=EXECUTION_ID, kind="execution", status="COMPLETED", progress=1.0
            ),
        ),
        expires_at=record.expires_at,
    )
    return message


def _verified(secret: str, body: bytes, headers: dict[str, str]) -> Any:
    # standardwebhooks checks the timestamp against the real clock: sign "now" for this check.
    return Webhook(secret).verify(body, headers)


def test_deliver_signs_so_the_reference_library_verifies(stores: Stores) -> None:
    stores = dataclasses.replace(stores, clock=time.time)
    receiver = Receiver(204)
    message = _message(stores)

    webhooks.deliver(message, stores, receiver, allow_private=True)

    ((url, body, headers),) = receiver.sent
    secret = webhooks.secret_of("acme", stores).secret
    assert url == URL
    assert _verified(secret, body, headers)["type"] == "execution.completed"
    assert headers["webhook-id"] == message.delivery_id


def test_deliver_after_a_rotation_verifies_with_the_previous_secret_too(stores: Stores) -> None:
    stores = dataclasses.replace(stores, clock=time.time)
    previous = webhooks.secret_of("acme", stores).secret
    current = webhooks.rotate_secret("acme", stores).secret
    receiver = Receiver(200)

    webhooks.deliver(_message(stores), stores, receiver, allow_private=True)

    ((_, body, headers),) = receiver.sent
    assert _verified(previous, body, headers) == _verified(current, body, headers)


def test_deliver_records_a_refused_attempt_and_raises(stores: Stores) -> None:
    message = _message(stores)

    with pytest.raises(WebhookDeliveryError, match="HTTP 500"):
        webhooks.deliver(message, stores, Receiver(500), allow_private=True)

    (delivery,) = stores.webhooks.list_deliveries("execution", EXECUTION_ID)
    assert [(a.attempt, a.status_code, a.succeeded) for a in delivery.attempts] == [(1, 500, False)]


def test_deliver_records_a_receiver_that_does_not_answer(stores: Stores) -> None:
    message = _message(stores)

    with pytest.raises(WebhookDeliveryError):
        webhooks.deliver(message, stores, _unreachable, allow_private=True)

    (delivery,) = stores.webhooks.list_deliveries("execution", EXECUTION_ID)
    assert delivery.attempts[0].status_code is None
    assert "ConnectionRefusedError" in str(delivery.attempts[0].error)


def test_deliver_refuses_a_private_target_at_delivery_time(stores: Stores) -> None:
    message = _message(stores).model_copy(update={"url": "http://127.0.0.1:9/hook"})
    receiver = Receiver(200)

    with pytest.raises(WebhookDeliveryError, match="public addresses only"):
        webhooks.deliver(message, stores, receiver, allow_private=False)

    assert receiver.sent == []


def test_resend_queues_the_recorded_delivery_unchanged(queued: Stores, queue_url: str) -> None:
    message = _message(queued)
    webhooks.deliver(message, queued, Receiver(200), allow_private=True)

    webhooks.resend("execution", EXECUTION_ID, message.delivery_id, "acme", queued)

    (again,) = _received(queue_url)
    assert again == message


def test_retry_delay_doubles_up_to_its_cap() -> None:
    delays = [webhooks.retry_delay(count, 30) for count in (1, 2, 3, 10)]

    assert delays == [30, 60, 120, webhooks.MAX_RETRY_DELAY_S]


@pytest.mark.parametrize(
    ("previous", "progress", "due"),
    [(None, 0.0, False), (None, 0.05, True), (0.05, 0.09, False), (0.09, 0.1, True), (0.1, 0.35, True)],
)
def test_is_progress_due_once_per_step(previous: float | None, progress: float, due: bool) -> None:
    assert webhooks.is_progress_due(previous, progress) is due


def test_secret_has_the_standard_prefix(stores: Stores) -> None:
    secret = webhooks.secret_of("acme", stores).secret

    assert secret.startswith("whsec_")
    Webhook(secret)  # the reference library takes it as it is


def test_payload_is_standard_webhooks_shaped(queued: Stores, queue_url: str) -> None:
    record = _execution(queued)
    webhooks.notify_job("execution", record, WebhookEvent.START, queued)

    (message,) = _received(queue_url)

    assert set(json.loads(message.payload.model_dump_json())) == {"type", "timestamp", "data"}
