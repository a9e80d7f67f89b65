"""Webhooks API: the signing secret, a job's deliveries (tenant-isolated), resend, and URL checks."""

from __future__ import annotations

import boto3
import pytest
from fastapi.testclient import TestClient
from stratus.models.executions import ExecutionRecord
from stratus.models.webhooks import WebhookEvent, WebhookMessage
from stratus.services import webhooks
from stratus.settings import Settings
from stratus.stores import Stores

from tests.conftest import START, job_plan

EXECUTION_ID = "3f2b1c9e-8a7d-4e6f-9b1a-2c3d4e5f6a7b"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
DELIVERIES = f"/api/v0/executions/{EXECUTION_ID}/webhook-deliveries"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:execution-test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The API's settings with the webhook queue and a state machine ARN (no run is ever started here)."""
    queue_url = str(boto3.client("sqs").create_queue(QueueName="webhooks")["QueueUrl"])
    return settings.model_copy(
        update={"webhook_queue_url": queue_url, "execution_state_machine_arn": MACHINE_ARN}
    )


@pytest.fixture
def delivery(stores: Stores) -> WebhookMessage:
    """A completed execution of tenant `local` whose completed event was delivered once (HTTP 500)."""
    record = ExecutionRecord(
        execution_id=EXECUTION_ID,
        tenant="local",
        algorithm_id="algorithm-1",
        input_dataset_ids=[],
        plan=job_plan(),
        created_at=START,
        expires_at=int(START) + 3600,
        webhook_url="https://hooks.example.com/stratus",
        webhook_events=[WebhookEvent.COMPLETED],
    )
    stores.executions.create(record)
    message = webhooks.WebhookMessage(
        delivery_id=webhooks.delivery_id_of("execution", EXECUTION_ID, WebhookEvent.COMPLETED),
        tenant="local",
        subject_kind="execution",
        subject_id=EXECUTION_ID,
        url="https://hooks.example.com/stratus",
        payload=webhooks.WebhookPayload(
            type="execution.completed",
            timestamp=START,
            data=webhooks.WebhookEventData(
                id=EXECUTION_ID, kind="execution", status="COMPLETED", progress=1.0
            ),
        ),
        expires_at=record.expires_at,
    )
    attempt = {"time": START, "status_code": 500, "error": "HTTP 500", "duration_ms": 4, "succeeded": False}
    stores.webhooks.record_attempt(message, attempt)
    return message


def test_get_secret_is_the_same_on_every_read(client: TestClient) -> None:
    first = client.get("/api/v0/webhooks/secret")

    again = client.get("/api/v0/webhooks/secret")

    assert first.status_code == 200
    assert first.json()["secret"].startswith("whsec_")
    assert again.json() == first.json()


def test_secrets_are_per_tenant(client: TestClient, client_for: object) -> None:
    other = client_for("globex").get("/api/v0/webhooks/secret")  # type: ignore[operator]

    assert other.json()["secret"] != client.get("/api/v0/webhooks/secret").json()["secret"]


def test_rotate_secret_answers_a_new_secret_with_the_old_ones_grace(client: TestClient) -> None:
    before = client.get("/api/v0/webhooks/secret").json()["secret"]

    rotated = client.post("/api/v0/webhooks/secret/rotate")

    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (before, "")
    assert rotated.json()["previous_valid_until"] is not None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "http://[::1]/x"]
)
def test_execute_refuses_a_private_webhook_url(client: TestClient, url: str) -> None:
    body = {"algorithm_id": UNKNOWN_ID, "input_dataset_ids": [UNKNOWN_ID], "webhook_url": url}

    response = client.post("/api/v0/execute-algorithm", json=body)

    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert "public addresses only" in response.json()["detail"]


def test_execute_refuses_a_webhook_url_that_is_not_http(client: TestClient) -> None:
    body = {
        "algorithm_id": UNKNOWN_ID,
        "input_dataset_ids": [UNKNOWN_ID],
        "webhook_url": "file:///etc/passwd",
    }

    response = client.post("/api/v0/execute-algorithm", json=body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "webhook_url"]


def test_execute_refuses_an_unknown_webhook_event(client: TestClient) -> None:
    body = {"algorithm_id": UNKNOWN_ID, "input_dataset_ids": [UNKNOWN_ID], "webhook_events": ["finished"]}

    response = client.post("/api/v0/execute-algorithm", json=body)

    assert response.status_code == 422


def test_deliveries_list_every_attempt(client: TestClient, delivery: WebhookMessage) -> None:
    response = client.get(DELIVERIES)

    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert item["delivery_id"] == delivery.delivery_id
    assert item["type"] == "execution.completed"
    assert item["status"] == "failing"
    assert [(a["attempt"], a["status_code"]) for a in item["attempts"]] == [(1, 500)]


def test_deliveries_of_another_tenants_execution_are_not_found(
    client_for: object, delivery: WebhookMessage
) -> None:
    response = client_for("globex").get(DELIVERIES)  # type: ignore[operator]

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_resend_queues_the_delivery_again(
    client: TestClient, delivery: WebhookMessage, settings: Settings
) -> None:
    response = client.post(f"{DELIVERIES}/{delivery.delivery_id}/resend")

    queued = boto3.client("sqs").receive_message(QueueUrl=str(settings.webhook_queue_url))["Messages"]
    assert response.status_code == 202
    assert [WebhookMessage.model_validate_json(m["Body"]) for m in queued] == [delivery]


def test_resend_by_another_tenant_is_not_found(client_for: object, delivery: WebhookMessage) -> None:
    response = client_for("globex").post(f"{DELIVERIES}/{delivery.delivery_id}/resend")  # type: ignore[operator]

    assert response.status_code == 404


def test_resend_of_an_unknown_delivery_is_not_found(client: TestClient, delivery: WebhookMessage) -> None:
    response = client.post(f"{DELIVERIES}/msg_{'0' * 32}/resend")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_deliveries_of_an_unknown_training_are_not_found(client: TestClient) -> None:
    response = client.get(f"/api/v0/training/{UNKNOWN_ID}/webhook-deliveries")

    assert response.status_code == 404
