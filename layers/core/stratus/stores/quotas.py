"""QuotaStore: per tenant, the jobs it has queued (accepted, not ended) and running, as two sets in one
item, so admitting a job and checking the cap are one conditional write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from stratus.stores.base import Item, RecordStore, Write

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_dynamodb.service_resource import Table

    from stratus.clock import Clock

QUEUED = "queued"
RUNNING = "running"


def quota_key(tenant: str) -> Item:
    """Primary key of a tenant's quota item."""
    return {"pk": f"quota#{tenant}", "sk": "quota"}


class QuotaStore(RecordStore):
    """Members are job holders (`execution#id`, `training#id`). Adding and removing a member is
    idempotent, so a retried task or a second release changes nothing."""

    def __init__(self, table: Table, clock: Clock, max_queued: int, max_running: int) -> None:
        super().__init__(table, clock)
        self.max_queued = max_queued
        self.max_running = max_running

    def admit_write(self, tenant: str, member: str) -> Write:
        """The transaction write that adds ``member`` to the tenant's queued jobs while fewer than
        ``max_queued`` are (it fails the transaction otherwise)."""
        below = Attr(QUEUED).not_exists() | Attr(QUEUED).size().lt(self.max_queued)
        return {
            "Update": {
                "Key": quota_key(tenant),
                "UpdateExpression": "ADD #members :member",
                "ExpressionAttributeNames": {"#members": QUEUED},
                "ExpressionAttributeValues": {":member": {member}},
                "Condition": below,
            }
        }

    def start_running(self, tenant: str, member: str) -> bool:
        """Add ``member`` to the running jobs unless ``max_running`` run already; whether it runs."""
        limit = self.max_running
        room = Attr(RUNNING).not_exists() | Attr(RUNNING).size().lt(limit) | Attr(RUNNING).contains(member)
        try:
            self._table.update_item(
                Key=quota_key(tenant),
                UpdateExpression="ADD #members :member",
                ExpressionAttributeNames={"#members": RUNNING},
                ExpressionAttributeValues={":member": {member}},
                ConditionExpression=room,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def members(self, tenant: str) -> tuple[set[str], set[str]]:
        """The tenant's queued and running members."""
        item: dict[str, Any] = (
            self._table.get_item(Key=quota_key(tenant), ConsistentRead=True).get("Item") or {}
        )
        return {str(m) for m in item.get(QUEUED, ())}, {str(m) for m in item.get(RUNNING, ())}

    def release(self, tenant: str, members: Iterable[str]) -> None:
        """Remove ``members`` from both sets (ended jobs)."""
        gone = set(members)
        if gone:
            self._table.update_item(
                Key=quota_key(tenant),
                UpdateExpression="DELETE #queued :gone, #running :gone",
                ExpressionAttributeNames={"#queued": QUEUED, "#running": RUNNING},
                ExpressionAttributeValues={":gone": gone},
            )
