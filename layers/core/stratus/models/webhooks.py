"""Webhooks: subscriptions on jobs, the Standard Webhooks event payload, queue messages, delivery records."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_URL_CHARS = 512
WEBHOOK_SCHEMES = frozenset({"http", "https"})
# What a webhook's subject is; the payload's `type` is "<kind>.<event>" (execution.completed).
SubjectKind = Literal["execution", "training", "workflow"]


class WebhookEvent(StrEnum):
    """What happened to a job: the events a subscription may name."""

    START = "start"
    PROGRESS = "progress"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"


ALL_WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = tuple(WebhookEvent)


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in WEBHOOK_SCHEMES:
        raise ValueError("a webhook_url must start with http:// or https://")
    if not parts.hostname or any(c.isspace() for c in url):
        raise ValueError("a webhook_url needs a host and no spaces")
    return url


def _distinct_events(events: list[WebhookEvent]) -> list[WebhookEvent]:
    repeated = [e.value for e, count in Counter(events).items() if count > 1]
    if repeated:
        raise ValueError(f"each event may appear once; repeated: {', '.join(repeated)}")
    return events


WebhookUrl = Annotated[
    str,
    Field(max_length=MAX_URL_CHARS, examples=["https://example.com/hooks/stratus"]),
    AfterValidator(_http_url),
]
WebhookEvents = Annotated[list[WebhookEvent], AfterValidator(_distinct_events)]


class WebhookSubscription(BaseModel):
    """Request fields (mixed into job requests): where to POST signed events, and which ones."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: WebhookUrl | None = Field(
        default=None, description="http(s) URL that receives signed events (Standard Webhooks)"
    )
    webhook_events: WebhookEvents = Field(
        default_factory=lambda: list(ALL_WEBHOOK_EVENTS),
        description="The events to send (all by default)",
    )


class WebhookError(BaseModel):
    """Why the subject failed (a job's error)."""

    type: str
    message: str


class WebhookEventData(BaseModel):
    """The subject's state when the event happened."""

    id: str
    kind: SubjectKind
    status: str
    progress: float
    error: WebhookError | None = None
    outputs: list[str] = Field(default_factory=list, description="Output file or checkpoint ids")


class WebhookPayload(BaseModel):
    """A webhook's body, as Standard Webhooks shapes it: ``type``, ``timestamp`` and ``data``."""

    type: str = Field(examples=["execution.completed"])
    timestamp: datetime
    data: WebhookEventData


class WebhookMessage(BaseModel):
    """One event to deliver: the webhook queue's message body (internal)."""

    delivery_id: str = Field(description="The webhook-id header: the same for every attempt of this event")
    tenant: str
    subject_kind: SubjectKind
    subject_id: str
    url: str
    payload: WebhookPayload
    expires_at: int


class WebhookAttempt(BaseModel):
    """One POST of a delivery and how the receiver answered."""

    attempt: int = Field(ge=1, description="Counts from 1 over every try, resends included")
    time: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; none when it did not answer")
    error: str | None = None
    duration_ms: int
    succeeded: bool


class WebhookDeliveryRecord(BaseModel):
    """A delivery as stored (internal): one event to one URL and every attempt at it."""

    tenant: str
    subject_kind: SubjectKind
    subject_id: str
    delivery_id: str
    url: str
    payload: WebhookPayload
    attempts: list[WebhookAttempt] = Field(default_factory=list)
    created_at: float
    expires_at: int


class WebhookDelivery(BaseModel):
    """A delivery as clients see it."""

    delivery_id: str
    type: str
    url: str
    status: Literal["pending", "delivered", "failing"] = Field(
        description="delivered: the last attempt got a 2xx; failing: it did not (retries may follow)"
    )
    attempts: list[WebhookAttempt]
    payload: WebhookPayload
    time_created: datetime

    @classmethod
    def from_record(cls, record: WebhookDeliveryRecord) -> WebhookDelivery:
        """Shape a stored delivery for clients."""
        last = record.attempts[-1] if record.attempts else None
        status: Literal["pending", "delivered", "failing"] = (
            "pending" if last is None else "delivered" if last.succeeded else "failing"
        )
        return cls(
            delivery_id=record.delivery_id,
            type=record.payload.type,
            url=record.url,
            status=status,
            attempts=record.attempts,
            payload=record.payload,
            time_created=datetime.fromtimestamp(record.created_at, UTC),
        )


class WebhookDeliveryPage(BaseModel):
    """A subject's deliveries, newest first."""

    items: list[WebhookDelivery]


class WebhookSecretRecord(BaseModel):
    """A tenant's signing secret as stored (internal); the previous one signs too until it lapses."""

    tenant: str
    secret: str
    previous_secret: str | None = None
    previous_valid_until: float | None = None
    version: int = 1
    created_at: float

    def signing_secrets(self, now: float) -> list[str]:
        """The secrets a delivery is signed with at ``now``: the current one, and the previous one
        during its grace period."""
        previous = self.previous_secret
        if previous and self.previous_valid_until is not None and self.previous_valid_until > now:
            return [self.secret, previous]
        return [self.secret]


class WebhookSecret(BaseModel):
    """The tenant's signing secret (``whsec_…``): verify deliveries with it."""

    secret: str = Field(description="Pass it to standardwebhooks.Webhook(secret)")
    previous_valid_until: datetime | None = Field(
        default=None, description="Until then deliveries carry a second signature by the previous secret"
    )

    @classmethod
    def from_record(cls, record: WebhookSecretRecord, now: float) -> WebhookSecret:
        """Shape a stored secret for its tenant."""
        until = record.previous_valid_until
        return cls(
            secret=record.secret,
            previous_valid_until=datetime.fromtimestamp(until, UTC) if until and until > now else None,
        )


def event_type(kind: SubjectKind, event: WebhookEvent) -> str:
    """The payload's ``type`` of ``event`` on a subject of ``kind``."""
    return f"{kind}.{event.value}"


def subscription_fields(subscription: WebhookSubscription) -> dict[str, Any]:
    """What a job record keeps of a request's subscription."""
    return {"webhook_url": subscription.webhook_url, "webhook_events": list(subscription.webhook_events)}
