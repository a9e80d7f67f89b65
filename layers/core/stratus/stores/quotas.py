"""QuotaStore: per tenant, the jobs it has queued (accepted, not ended) and running, as two sets in one
item, so admitting a job and checking the cap are one conditional write; and the jobs waiting for a
running slot, each with its place in the tenant's queue order, in the same item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from stratus.models.jobs import MAX_PRIORITY
from stratus.stores.base import Item, RecordStore, Write

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_dynamodb.service_resource import Table

    from stratus.clock import Clock

QUEUED = "queued"
RUNNING = "running"
# Each waiting job is a top-level attribute of its own, not a member of one map: REMOVE of a map's member
# fails while the map does not exist (a release must work on any item), REMOVE of an attribute never does.
WAITING_PREFIX = "waiting#"


def quota_key(tenant: str) -> Item:
    """Primary key of a tenant's quota item."""
    return {"pk": f"quota#{tenant}", "sk": "quota"}


def waiting_attribute(member: str) -> str:
    """The quota item's attribute holding a waiting member's entry."""
    return f"{WAITING_PREFIX}{member}"


def waiting_order(priority: int, created_at: float) -> str:
    """A queued job's place in its tenant's queue as a string that sorts first for the job that runs
    first: the highest priority, then the oldest."""
    return f"{MAX_PRIORITY - priority:03d}#{int(created_at * 1000):015d}"


@dataclass(frozen=True)
class Waiting:
    """A job waiting for a running slot: its place in the queue and when it last asked for a slot."""

    order: str
    seen: int


@dataclass(frozen=True)
class QuotaUsage:
    """A tenant's quota item as read: queued and running members, and the waiting ones' entries."""

    queued: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    waiting: dict[str, Waiting] = field(default_factory=dict)


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
        """Add ``member`` to the running jobs unless ``max_running`` run already, ending its wait in the
        same write; whether it runs."""
        limit = self.max_running
        room = Attr(RUNNING).not_exists() | Attr(RUNNING).size().lt(limit) | Attr(RUNNING).contains(member)
        try:
            self._table.update_item(
                Key=quota_key(tenant),
                UpdateExpression="ADD #members :member REMOVE #waiting",
                ExpressionAttributeNames={"#members": RUNNING, "#waiting": waiting_attribute(member)},
                ExpressionAttributeValues={":member": {member}},
                ConditionExpression=room,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def wait(self, tenant: str, member: str, order: str) -> None:
        """Note that ``member`` waits for a running slot at ``order`` (and asked now). A member no longer
        queued (its job ended and was released meanwhile) is not noted: no entry outlives its job."""
        try:
            self._table.update_item(
                Key=quota_key(tenant),
                UpdateExpression="SET #waiting = :entry",
                ExpressionAttributeNames={"#waiting": waiting_attribute(member)},
                ExpressionAttributeValues={":entry": {"order": order, "seen": self._now()}},
                ConditionExpression=Attr(QUEUED).contains(member),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def reorder(self, tenant: str, member: str, order: str) -> None:
        """Move a waiting member to ``order``; a member not waiting (it has not asked for a slot yet, or
        has one) is left alone: it reads its order from its record when it asks."""
        try:
            self._table.update_item(
                Key=quota_key(tenant),
                UpdateExpression="SET #waiting.#order = :order",
                ExpressionAttributeNames={"#waiting": waiting_attribute(member), "#order": "order"},
                ExpressionAttributeValues={":order": order},
                ConditionExpression=Attr(waiting_attribute(member)).exists(),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def forget_waiting(self, tenant: str, members: Iterable[str]) -> None:
        """Drop the waiting entries of ``members`` (they stay queued and running as they are)."""
        names = {f"#w{i}": waiting_attribute(m) for i, m in enumerate(sorted(set(members)))}
        if names:
            self._table.update_item(
                Key=quota_key(tenant),
                UpdateExpression="REMOVE " + ", ".join(names),
                ExpressionAttributeNames=names,
            )

    def usage(self, tenant: str) -> QuotaUsage:
        """The tenant's queued, running and waiting members (one consistent read)."""
        item: dict[str, Any] = (
            self._table.get_item(Key=quota_key(tenant), ConsistentRead=True).get("Item") or {}
        )
        waiting = {
            name.removeprefix(WAITING_PREFIX): Waiting(order=str(entry["order"]), seen=int(entry["seen"]))
            for name, entry in item.items()
            if name.startswith(WAITING_PREFIX)
        }
        return QuotaUsage(
            queued={str(m) for m in item.get(QUEUED, ())},
            running={str(m) for m in item.get(RUNNING, ())},
            waiting=waiting,
        )

    def members(self, tenant: str) -> tuple[set[str], set[str]]:
        """The tenant's queued and running members."""
        usage = self.usage(tenant)
        return usage.queued, usage.running

    def release(self, tenant: str, members: Iterable[str]) -> None:
        """Remove ``members`` from both sets and their waiting entries (ended jobs)."""
        gone = sorted(set(members))
        if gone:
            waiting = {f"#w{i}": waiting_attribute(m) for i, m in enumerate(gone)}
            self._table.update_item(
                Key=quota_key(tenant),
                UpdateExpression="DELETE #queued :gone, #running :gone REMOVE " + ", ".join(waiting),
                ExpressionAttributeNames={"#queued": QUEUED, "#running": RUNNING, **waiting},
                ExpressionAttributeValues={":gone": set(gone)},
            )
