"""The webhooks function: an SQS batch in, signed POSTs out, failed records reported for retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from standardwebhooks import Webhook
from stratus.models.webhooks import WebhookEventData, WebhookMessage, WebhookPayload
from stratus.services import webhooks
from stratus.settings import Settings, get_settings
from stratus.stores import Stores

SUBJECT = "3f2b1c9e-8a7d-4e6f-9b1a-2c3d4e5f6a7b"


class Receiver:
    """A webhook receiver on loopback that answers ``statuses`` in turn (then 200) and keeps requests."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  # http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append((body, dict(self.headers)))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def queue_url(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The webhook queue, and the function's environment as the local stack sets it."""
    url = str(boto3.client("sqs").create_queue(QueueName="webhooks")["QueueUrl"])
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", url)
    monkeypatch.setenv("ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.fixture
def sqs_event(
    queue_url: str, load_event: Callable[..., dict[str, Any]]
) -> Callable[[str], tuple[dict[str, Any], str]]:
    """``sqs_event(url)``: an event event of one queued webhook message to ``url`` (really received from
    the queue, so its receipt handle is live), and the message's id."""

    def make(url: str) -> tuple[dict[str, Any], str]:
        message = WebhookMessage(
            delivery_id=webhooks.delivery_id_of("execution", SUBJECT, webhooks.WebhookEvent.COMPLETED),
            tenant="acme",
            subject_kind="execution",
            subject_id=SUBJECT,
            url=url,
            payload=WebhookPayload(
                type="execution.completed",
                timestamp=datetime.now(UTC),
                data=WebhookEventData(id=SUBJECT, kind="execution", status="COMPLETED", progress=1.0),
            ),
            expires_at=4_102_444_800 + 86_400,  # after the tests clock (conftest START)
        )
        sqs = boto3.client("sqs")
        sqs.send_message(QueueUrl=queue_url, MessageBody=message.model_dump_json())
        (received,) = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=300)["Messages"]
        event = load_event(
            "sqs/webhook",
            message_id=received["MessageId"],
            receipt_handle=received["ReceiptHandle"],
            body=json.dumps(received["Body"])[1:-1],
            receive_count="1",
            queue_arn="arn:aws:sqs:us-east-1:123456789012:webhooks",
        )
        return event, received["MessageId"]

    return make


def test_handler_delivers_a_signed_event(
    sqs_event: Callable[[str], tuple[dict[str, Any], str]],
    function_handler: Callable[[str], Callable[..., Any]],
    lambda_context: Any,
    stores: Stores,
) -> None:
    with Receiver() as receiver:
        event, _ = sqs_event(receiver.url)

        answer = function_handler("webhooks")(event, lambda_context)

    ((body, headers),) = receiver.requests
    secret = webhooks.secret_of("acme", stores).secret
    assert answer == {"batchItemFailures": []}
    assert Webhook(secret).verify(body, headers)["data"]["id"] == SUBJECT


def test_handler_reports_a_refused_delivery_as_a_batch_item_failure(
    sqs_event: Callable[[str], tuple[dict[str, Any], str]],
    function_handler: Callable[[str], Callable[..., Any]],
    lambda_context: Any,
    stores: Stores,
) -> None:
    with Receiver(500) as receiver:
        event, message_id = sqs_event(receiver.url)

        answer = function_handler("webhooks")(event, lambda_context)

    (delivery,) = stores.webhooks.list_deliveries("execution", SUBJECT)
    assert answer == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert delivery.attempts[0].status_code == 500
