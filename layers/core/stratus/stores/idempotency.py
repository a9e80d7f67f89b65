"""IdempotencyStore: which request an `Idempotency-Key` was first used with."""

from __future__ import annotations

from boto3.dynamodb.conditions import Attr

from stratus.models.idempotency import IdempotencyRecord
from stratus.stores.base import Item, RecordStore, Write, to_item

KIND = "idempotency"


def idempotency_key(tenant: str, key: str) -> Item:
    """Primary key of a used idempotency key; keys are per tenant."""
    return {"pk": f"{KIND}#{tenant}#{key}", "sk": KIND}


class IdempotencyStore(RecordStore):
    """Used idempotency keys; the first request to claim a key owns it until it expires."""

    def claim_write(self, record: IdempotencyRecord) -> Write:
        """The transaction write that claims ``record``'s key (fails while a live record holds it)."""
        key = idempotency_key(record.tenant, record.key)
        free = Attr("pk").not_exists() | Attr("expires_at").lte(self._now())
        return {"Put": {"Item": to_item({**key, **record.model_dump()}), "Condition": free}}

    def get(self, tenant: str, key: str) -> IdempotencyRecord:
        """The live record holding ``key``. Raises NotFoundError."""
        return IdempotencyRecord.model_validate(
            self._get_live(idempotency_key(tenant, key), "idempotency key")
        )
