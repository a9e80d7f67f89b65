"""Webhook use cases: check a receiver's URL, queue a job's events, sign and deliver them (Standard
Webhooks), record every attempt, resend, and the tenant's signing secret."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from standardwebhooks import Webhook

from stratus.errors import InvalidInputError, WebhookDeliveryError
from stratus.models.webhooks import (
    WebhookError,
    WebhookEvent,
    WebhookEventData,
    WebhookMessage,
    WebhookPayload,
    event_type,
)
from stratus.observability import logger

if TYPE_CHECKING:
    from collections.abc import Iterable

    from stratus.models.jobs import JobRecord
    from stratus.models.webhooks import (
        SubjectKind,
        WebhookDeliveryRecord,
        WebhookSecretRecord,
        WebhookSubscription,
    )
    from stratus.models.workflows import WorkflowRecord
    from stratus.stores import Stores, WebhookSender

# A receiver gets this long to answer; the function's timeout (template.yaml) covers a batch of them.
DELIVERY_TIMEOUT_S = 10.0
# Standard Webhooks: secrets are 24 to 64 random bytes, base64, prefixed `whsec_`.
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# After a rotation the previous secret signs too for a day, so receivers can switch without a gap.
SECRET_GRACE_SECONDS = 86_400
# A retry waits base·2^(n-1) seconds after the n-th failed attempt, at most this long.
MAX_RETRY_DELAY_S = 900
# Progress events go out per this much progress (the worker also throttles its writes).
PROGRESS_STEP = 0.1
USER_AGENT = "Stratus-Webhooks/1"
ERROR_CHARS = 300

# (url, body, headers, timeout) → the receiver's HTTP status; raises OSError when it does not answer.
Poster = Callable[[str, bytes, Mapping[str, str], float], int]
Resolver = Callable[[str], list[str]]
# A job's final status → its event (by value: workflows end CANCELLED, not STOPPED).
END_EVENTS = {
    "COMPLETED": WebhookEvent.COMPLETED,
    "FAILED": WebhookEvent.FAILED,
    "STOPPED": WebhookEvent.STOPPED,
}


def _addresses(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]


def check_url(url: str, allow_private: bool, resolve: Resolver = _addresses) -> None:
    """Refuse a receiver that is not http(s), or (unless ``allow_private``) whose host is or resolves to
    a private, loopback, link-local or otherwise non-public address: the stack's own network.

    Raises InvalidInputError.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("webhook_url must be an http:// or https:// URL with a host")
    if allow_private:
        return
    try:
        found = resolve(parts.hostname)
    except (OSError, UnicodeError) as exc:
        raise InvalidInputError(f"webhook_url's host {parts.hostname} does not resolve") from exc
    for address in found:
        if not _is_public(address):
            raise InvalidInputError(
                f"webhook_url's host {parts.hostname} is a private, loopback or link-local address "
                f"({address}); webhooks go to public addresses only"
            )


def check_subscription(subscription: WebhookSubscription, allow_private: bool) -> None:
    """check_url for a request's webhook_url, when it names one. Raises InvalidInputError."""
    if subscription.webhook_url is not None:
        check_url(subscription.webhook_url, allow_private)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST ``body`` to ``url`` without following redirects or proxies; returns the HTTP status.

    Raises OSError (no answer: refused, reset, timed out, TLS).
    """
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could point at an address check_url refused; 3xx counts as a failed attempt.
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


# --- the tenant's signing secret -------------------------------------------------------------------


def new_secret() -> str:
    """A fresh Standard Webhooks secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_of(tenant: str, stores: Stores) -> WebhookSecretRecord:
    """The tenant's signing secret, made on first use."""
    return stores.webhooks.get_secret(tenant, new_secret())


def rotate_secret(tenant: str, stores: Stores) -> WebhookSecretRecord:
    """Replace the tenant's secret; the previous one keeps signing for SECRET_GRACE_SECONDS.

    Raises ConflictError (rotated concurrently).
    """
    return stores.webhooks.rotate_secret(secret_of(tenant, stores), new_secret(), SECRET_GRACE_SECONDS)


def signature_headers(delivery_id: str, timestamp: float, body: str, keys: Iterable[str]) -> dict[str, str]:
    """Standard Webhooks headers: one `v1,` signature per secret, space-separated."""
    when = datetime.fromtimestamp(int(timestamp), UTC)
    signatures = " ".join(Webhook(key).sign(delivery_id, when, body) for key in keys)
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


# --- queueing events (on the job's path: cheap, never raises) ---------------------------------------


def delivery_id_of(kind: SubjectKind, subject_id: str, event: WebhookEvent, progress: float = 0.0) -> str:
    """The event's webhook-id: the same however often the event is emitted (a retried step task), so
    receivers can drop duplicates; progress events differ by their step."""
    step = f"#{int(progress * 100)}" if event is WebhookEvent.PROGRESS else ""
    digest = hashlib.sha256(f"{kind}#{subject_id}#{event.value}{step}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def notify(
    message: WebhookMessage, events: Iterable[WebhookEvent], event: WebhookEvent, sender: WebhookSender
) -> bool:
    """Queue ``message`` if ``event`` is subscribed; whether it was queued. A queue that fails is
    logged, never raised: a receiver (or the queue) never holds up a job."""
    if event not in set(events):
        return False
    if not sender.is_configured:
        logger.warning("webhook dropped: WEBHOOK_QUEUE_URL is not set", extra={"type": message.payload.type})
        return False
    try:
        sender.send(message)
    except (ClientError, BotoCoreError):
        logger.exception("webhook not queued", extra={"delivery_id": message.delivery_id})
        return False
    return True


def notify_job(
    kind: SubjectKind, record: JobRecord, event: WebhookEvent, stores: Stores, outputs: Iterable[str] = ()
) -> bool:
    """Queue ``event`` of a job to its subscriber, if it has one for it; whether it was queued."""
    if record.webhook_url is None:
        return False
    job_id = str(getattr(record, f"{kind}_id"))
    error = WebhookError(type=record.error.type, message=record.error.message) if record.error else None
    message = WebhookMessage(
        delivery_id=delivery_id_of(kind, job_id, event, record.progress),
        tenant=record.tenant,
        subject_kind=kind,
        subject_id=job_id,
        url=record.webhook_url,
        payload=WebhookPayload(
            type=event_type(kind, event),
            timestamp=datetime.fromtimestamp(stores.clock(), UTC),
            data=WebhookEventData(
                id=job_id,
                kind=kind,
                status=record.status.value,
                progress=record.progress,
                error=error,
                outputs=list(outputs),
            ),
        ),
        expires_at=record.expires_at,
    )
    return notify(message, record.webhook_events, event, stores.webhook_sender)


def notify_workflow(record: WorkflowRecord, event: WebhookEvent, stores: Stores) -> bool:
    """Queue ``event`` of a workflow to its subscriber, if it has one for it; whether it was queued.
    Progress: a step completed (its data's ``progress`` says how many)."""
    if record.webhook_url is None:
        return False
    progress = record.completed_steps / record.total_steps if record.total_steps else 0.0
    failed = record.errors and event is WebhookEvent.FAILED
    message = WebhookMessage(
        delivery_id=delivery_id_of("workflow", record.workflow_id, event, progress),
        tenant=record.tenant,
        subject_kind="workflow",
        subject_id=record.workflow_id,
        url=record.webhook_url,
        payload=WebhookPayload(
            type=event_type("workflow", event),
            timestamp=datetime.fromtimestamp(stores.clock(), UTC),
            data=WebhookEventData(
                id=record.workflow_id,
                kind="workflow",
                status=record.status.value,
                progress=progress,
                error=WebhookError(type="WorkflowFailed", message=record.errors[-1]) if failed else None,
            ),
        ),
        expires_at=record.expires_at,
    )
    return notify(message, record.webhook_events, event, stores.webhook_sender)


def notify_end(kind: SubjectKind, record: JobRecord, stores: Stores, outputs: Iterable[str] = ()) -> bool:
    """Queue the event of the job's final status (completed, failed, stopped); whether it was queued."""
    event = END_EVENTS.get(record.status.value)
    return event is not None and notify_job(kind, record, event, stores, outputs)


def is_progress_due(previous: float | None, progress: float) -> bool:
    """Whether ``progress`` crossed a PROGRESS_STEP boundary since ``previous`` (None: none sent yet)."""
    if previous is None:
        return progress > 0
    return int(progress / PROGRESS_STEP + 1e-9) > int(previous / PROGRESS_STEP + 1e-9)


# --- delivering (the webhooks function) --------------------------------------------------------------


def deliver(
    message: WebhookMessage, stores: Stores, send: Poster, allow_private: bool
) -> WebhookDeliveryRecord:
    """Sign and POST one event, and record the attempt.

    Raises WebhookDeliveryError (no 2xx answer: the queue tries again).
    """
    now = stores.clock()
    body = message.payload.model_dump_json()
    keys = secret_of(message.tenant, stores).signing_secrets(now)
    headers = signature_headers(message.delivery_id, now, body, keys)
    started = time.monotonic()
    status: int | None = None
    try:
        # Again at every attempt: a name that resolved publicly when the job was accepted may not now.
        check_url(message.url, allow_private)
        status = send(message.url, body.encode(), headers, DELIVERY_TIMEOUT_S)
        error = None if 200 <= status < 300 else f"the receiver answered HTTP {status}"
    except InvalidInputError as exc:
        error = exc.detail
    except OSError as exc:
        error = f"no answer: {type(exc).__name__}: {exc}"[:ERROR_CHARS]
    attempt = {
        "time": now,
        "status_code": status,
        "error": error,
        "duration_ms": int((time.monotonic() - started) * 1000),
        "succeeded": error is None,
    }
    record = stores.webhooks.record_attempt(message, attempt)
    if error is not None:
        raise WebhookDeliveryError(f"webhook {message.delivery_id} to {message.url} failed: {error}")
    return record


def retry_delay(receive_count: int, base_s: int) -> int:
    """Seconds before the next attempt after the ``receive_count``-th failed one (doubling)."""
    return int(min(base_s * 2 ** max(receive_count - 1, 0), MAX_RETRY_DELAY_S))


def deliver_received(
    body: str,
    receipt_handle: str,
    receive_count: int,
    stores: Stores,
    send: Poster,
    allow_private: bool,
    retry_base_s: int,
) -> WebhookDeliveryRecord:
    """Deliver one queued event; after a failure its message comes back after retry_delay (the queue's
    redrive policy moves it to the dead-letter queue after its last attempt).

    Raises WebhookDeliveryError.
    """
    message = WebhookMessage.model_validate_json(body)
    try:
        return deliver(message, stores, send, allow_private)
    except WebhookDeliveryError as exc:
        delay = retry_delay(receive_count, retry_base_s)
        logger.warning("webhook delivery failed", extra={"detail": exc.detail, "retry_in_s": delay})
        stores.webhook_sender.postpone(receipt_handle, delay)
        raise


def resend(
    kind: SubjectKind, subject_id: str, delivery_id: str, tenant: str, stores: Stores
) -> WebhookDeliveryRecord:
    """Queue a recorded delivery again, unchanged (same webhook-id and body).

    Raises NotFoundError (another tenant's, expired or unknown).
    """
    record = stores.webhooks.get_delivery(kind, subject_id, delivery_id, tenant)
    if not stores.webhook_sender.is_configured:
        # A deployment error, not the client's: answered as a 500 and logged.
        raise RuntimeError("WEBHOOK_QUEUE_URL is not set")
    message = WebhookMessage(
        delivery_id=record.delivery_id,
        tenant=record.tenant,
        subject_kind=record.subject_kind,
        subject_id=record.subject_id,
        url=record.url,
        payload=record.payload,
        expires_at=record.expires_at,
    )
    stores.webhook_sender.send(message)
    return record
