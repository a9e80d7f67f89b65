"""WebhookStore: a tenant's secret (made once, rotated by a conditional write) and delivery attempts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from stratus.errors import ConflictError, NotFoundError
from stratus.models.webhooks import WebhookEventData, WebhookMessage, WebhookPayload
from stratus.stores import Stores

from tests.conftest import START, MovableClock

SUBJECT = "3f2b1c9e-8a7d-4e6f-9b1a-2c3d4e5f6a7b"


def _message(
    delivery_id: str = "msg_" + "a" * 32, tenant: str = "acme", expires_at: int = 0
) -> WebhookMessage:
    return WebhookMessage(
        delivery_id=delivery_id,
        tenant=tenant,
        subject_kind="execution",
        subject_id=SUBJECT,
        url="https://example.com/hook",
        payload=WebhookPayload(
            type="execution.completed",
            timestamp=datetime.fromtimestamp(START, UTC),
            data=WebhookEventData(id=SUBJECT, kind="execution", status="COMPLETED", progress=1.0),
        ),
        expires_at=expires_at or int(START) + 3600,
    )


def _attempt(status_code: int | None, succeeded: bool) -> dict[str, object]:
    error = None if succeeded else "the receiver answered HTTP 500"
    return {
        "time": START,
        "status_code": status_code,
        "error": error,
        "duration_ms": 3,
        "succeeded": succeeded,
    }


def test_get_secret_stores_the_first_candidate_only(stores: Stores) -> None:
    first = stores.webhooks.get_secret("acme", "whsec_first")

    again = stores.webhooks.get_secret("acme", "whsec_second")

    assert first.secret == again.secret == "whsec_first"


def test_get_secret_is_per_tenant(stores: Stores) -> None:
    stores.webhooks.get_secret("acme", "whsec_acme")

    other = stores.webhooks.get_secret("globex", "whsec_globex")

    assert other.secret == "whsec_globex"


def test_rotate_secret_keeps_the_previous_one_signing_for_the_grace_period(
    stores: Stores, clock: MovableClock
) -> None:
    current = stores.webhooks.get_secret("acme", "whsec_old")

    rotated = stores.webhooks.rotate_secret(current, "whsec_new", 60)

    assert rotated.signing_secrets(clock()) == ["whsec_new", "whsec_old"]
    clock.advance(61)
    assert rotated.signing_secrets(clock()) == ["whsec_new"]


def test_rotate_secret_refuses_a_stale_read(stores: Stores) -> None:
    current = stores.webhooks.get_secret("acme", "whsec_old")
    stores.webhooks.rotate_secret(current, "whsec_new", 60)

    with pytest.raises(ConflictError):
        stores.webhooks.rotate_secret(current, "whsec_other", 60)


def test_record_attempt_appends_numbered_attempts(stores: Stores) -> None:
    message = _message()
    stores.webhooks.record_attempt(message, _attempt(500, succeeded=False))

    record = stores.webhooks.record_attempt(message, _attempt(200, succeeded=True))

    assert [(a.attempt, a.status_code, a.succeeded) for a in record.attempts] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert record.payload == message.payload


def test_list_deliveries_is_one_subjects_newest_first(stores: Stores, clock: MovableClock) -> None:
    stores.webhooks.record_attempt(_message("msg_" + "1" * 32), _attempt(200, succeeded=True))
    clock.advance(5)
    stores.webhooks.record_attempt(_message("msg_" + "2" * 32), _attempt(200, succeeded=True))

    listed = stores.webhooks.list_deliveries("execution", SUBJECT)

    assert [d.delivery_id for d in listed] == ["msg_" + "2" * 32, "msg_" + "1" * 32]
    assert stores.webhooks.list_deliveries("training", SUBJECT) == []


def test_list_deliveries_drops_expired_ones(stores: Stores, clock: MovableClock) -> None:
    stores.webhooks.record_attempt(_message(expires_at=int(START) + 10), _attempt(200, succeeded=True))

    clock.advance(11)

    assert stores.webhooks.list_deliveries("execution", SUBJECT) == []


def test_get_delivery_of_another_tenant_is_not_found(stores: Stores) -> None:
    message = _message(tenant="acme")
    stores.webhooks.record_attempt(message, _attempt(200, succeeded=True))

    with pytest.raises(NotFoundError):
        stores.webhooks.get_delivery("execution", SUBJECT, message.delivery_id, "globex")
