"""WebhookStore: tenants' signing secrets and every delivery attempt; WebhookSender: the webhook queue."""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from stratus.errors import AlreadyExistsError, ConflictError, NotFoundError
from stratus.models.webhooks import WebhookDeliveryRecord, WebhookSecretRecord
from stratus.stores.base import Item, RecordStore, from_item, to_item

if TYPE_CHECKING:
    from stratus.models.webhooks import SubjectKind, WebhookMessage

SECRET_KIND = "webhook-secret"
DELIVERY_KIND = "webhook-delivery"
# A subject gets a handful of events (start, a progress event per 10 %, an end) and resends reuse a
# delivery: a Query of this many covers it, and keeps a runaway subject's listing bounded.
MAX_LISTED_DELIVERIES = 200
# Attempts are kept in the delivery's item (DynamoDB's 400 KB item limit): beyond this many the newest
# are not recorded, though they are still made.
MAX_RECORDED_ATTEMPTS = 100
# SQS's largest visibility timeout is 12 hours.
MAX_VISIBILITY_SECONDS = 12 * 3600


def secret_key(tenant: str) -> Item:
    """Primary key of a tenant's signing secret."""
    return {"pk": f"{SECRET_KIND}#{tenant}", "sk": SECRET_KIND}


def delivery_partition(kind: SubjectKind, subject_id: str) -> str:
    """Partition of one subject's deliveries: its listing is one Query."""
    return f"{DELIVERY_KIND}#{kind}#{subject_id}"


def delivery_key(kind: SubjectKind, subject_id: str, delivery_id: str) -> Item:
    """Primary key of one delivery."""
    return {"pk": delivery_partition(kind, subject_id), "sk": delivery_id}


class WebhookStore(RecordStore):
    """Signing secrets (one per tenant, rotated by a conditional write) and deliveries under their
    subject, each attempt appended in one write."""

    def get_secret(self, tenant: str, candidate: str) -> WebhookSecretRecord:
        """The tenant's secret; the first read stores ``candidate`` as it (a concurrent first read's
        secret wins, and both callers get it)."""
        try:
            return WebhookSecretRecord.model_validate(self._get_live(secret_key(tenant), "webhook secret"))
        except NotFoundError:
            pass
        record = WebhookSecretRecord(tenant=tenant, secret=candidate, created_at=self._clock())
        try:
            self._put_new({**secret_key(tenant), **record.model_dump()}, "webhook secret")
        except AlreadyExistsError:
            return WebhookSecretRecord.model_validate(self._get_live(secret_key(tenant), "webhook secret"))
        return record

    def rotate_secret(
        self, current: WebhookSecretRecord, new_secret: str, grace_s: float
    ) -> WebhookSecretRecord:
        """Replace ``current`` (as last read) by ``new_secret``; the old one keeps signing for ``grace_s``.

        Raises ConflictError (rotated concurrently since ``current`` was read).
        """
        values = {
            "secret": new_secret,
            "previous_secret": current.secret,
            "previous_valid_until": self._clock() + grace_s,
            "version": current.version + 1,
        }
        try:
            item = self._update_guarded(
                secret_key(current.tenant),
                "webhook secret",
                values,
                condition=Attr("version").eq(current.version),
            )
        except ConflictError as exc:
            raise ConflictError("the webhook secret was rotated at the same time; read it again") from exc
        return WebhookSecretRecord.model_validate(item)

    def record_attempt(self, message: WebhookMessage, attempt: dict[str, Any]) -> WebhookDeliveryRecord:
        """Append one attempt (time, status_code, error, duration_ms, succeeded) to ``message``'s
        delivery, creating the delivery with its first attempt. Past MAX_RECORDED_ATTEMPTS the
        delivery is returned unchanged."""
        key = delivery_key(message.subject_kind, message.subject_id, message.delivery_id)
        created = {
            "tenant": message.tenant,
            "subject_kind": message.subject_kind,
            "subject_id": message.subject_id,
            "delivery_id": message.delivery_id,
            "url": message.url,
            "payload": message.payload.model_dump(mode="json"),
            "created_at": self._clock(),
            "expires_at": message.expires_at,
        }
        names = {f"#c{i}": name for i, name in enumerate(created)}
        values = {f":c{i}": value for i, value in enumerate(created.values())}
        sets = [f"#c{i} = if_not_exists(#c{i}, :c{i})" for i in range(len(created))]
        sets.append("#attempts = list_append(if_not_exists(#attempts, :none), :attempt)")
        try:
            response = self._table.update_item(
                Key=key,
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_not_exists(#attempts) OR size(#attempts) < :most",
                ExpressionAttributeNames={**names, "#attempts": "attempts"},
                ExpressionAttributeValues=to_item(
                    {**values, ":none": [], ":attempt": [attempt], ":most": MAX_RECORDED_ATTEMPTS}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return self._delivery(self._table.get_item(Key=key, ConsistentRead=True)["Item"])
        return self._delivery(response["Attributes"])

    def get_delivery(
        self, kind: SubjectKind, subject_id: str, delivery_id: str, tenant: str
    ) -> WebhookDeliveryRecord:
        """One live delivery of ``tenant``'s subject. Raises NotFoundError."""
        record = self._delivery(
            self._get_live(delivery_key(kind, subject_id, delivery_id), "webhook delivery")
        )
        if record.tenant != tenant:
            raise NotFoundError("webhook delivery not found")
        return record

    def list_deliveries(self, kind: SubjectKind, subject_id: str) -> list[WebhookDeliveryRecord]:
        """The subject's live deliveries, newest first (at most MAX_LISTED_DELIVERIES)."""
        live = (i for i in self._query_items(delivery_partition(kind, subject_id)) if self._is_live(i))
        items = list(islice(live, MAX_LISTED_DELIVERIES))
        deliveries = [self._delivery(i) for i in items]
        return sorted(deliveries, key=lambda d: d.created_at, reverse=True)

    @staticmethod
    def _delivery(item: Any) -> WebhookDeliveryRecord:
        found = from_item(item)
        # Attempts are numbered by their place: one write appends each, so the list is their order.
        found["attempts"] = [{**a, "attempt": n} for n, a in enumerate(found.get("attempts", []), start=1)]
        return WebhookDeliveryRecord.model_validate(found)


class WebhookSender:
    """The webhook queue: events go in, the webhooks function takes them out and POSTs them."""

    def __init__(self, sqs: Any, queue_url: str | None) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    @property
    def is_configured(self) -> bool:
        """Whether a queue was given (WEBHOOK_QUEUE_URL): without one nothing is sent."""
        return self._queue_url is not None

    def send(self, message: WebhookMessage) -> None:
        """Queue one event for delivery."""
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=message.model_dump_json())

    def postpone(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again only after ``seconds`` (the next retry's backoff)."""
        self._sqs.change_message_visibility(
            QueueUrl=self._queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=min(max(seconds, 0), MAX_VISIBILITY_SECONDS),
        )
