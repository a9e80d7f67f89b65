"""What every record store shares: expiry-aware reads, conditional writes, cursor pages."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from boto3.dynamodb.conditions import Attr, ConditionBase, ConditionExpressionBuilder, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from stratus.errors import AlreadyExistsError, IllegalTransitionError, InvalidInputError, NotFoundError
from stratus.models.records import TagFilter, TenantRecord, sources_in
from stratus.stores.cursors import CursorSigner

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from enum import StrEnum

    from mypy_boto3_dynamodb.service_resource import Table

    from stratus.clock import Clock

GSI_NAME = "gsi1"
# A filtered query may need several reads to fill a page; bound them so one request stays cheap.
MAX_QUERY_ROUNDS = 8
_DESERIALIZER = TypeDeserializer()

# BatchGetItem reads at most 100 keys a call; TransactWriteItems writes at most 100 items.
MAX_BATCH_READ = 100
MAX_TRANSACTION_ITEMS = 100

Item = dict[str, Any]
# The key /health reads to see the table answer; no record is stored under it.
HEALTH_PROBE_KEY = {"pk": "health", "sk": "health"}
Write = dict[str, Any]
# A write whose values DynamoDB refuses (an item over 400 KB, a value it cannot store): every value we
# write whole comes from a request or from what a request named, so it is the client's mistake, not a 500.
REFUSED_RECORD = "the request makes a record over DynamoDB's 400 KB item limit, or a value it cannot store"


R = TypeVar("R", bound=TenantRecord)


def record_key(kind: str, record_id: str) -> Item:
    """Primary key of a record of ``kind``."""
    return {"pk": f"{kind}#{record_id}", "sk": kind}


def listing_partition(kind: str, tenant: str) -> str:
    """GSI partition holding one tenant's records of ``kind``."""
    return f"{kind}#{tenant}"


def listing_sort_key(created_at: float, record_id: str) -> str:
    """GSI sort key: zero-padded creation time in ms, so string order is time order."""
    return f"{int(created_at * 1000):015d}#{record_id}"


def to_item(values: Mapping[str, Any]) -> Item:
    """Make values DynamoDB-safe: floats become Decimals, None values are dropped."""
    return {k: _to_dynamo(v) for k, v in values.items() if v is not None}


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def from_item(item: Mapping[str, Any]) -> Item:
    """Undo DynamoDB's Decimals so pydantic sees plain numbers."""
    return {k: _from_dynamo(v) for k, v in item.items()}


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def document_path(path: str, placeholder: str, names: dict[str, str]) -> str:
    """An update expression's path for an attribute or a document path (``rounds[2].status``), one name
    placeholder per segment (added to ``names``), so any attribute name is safe."""
    parts = []
    for j, segment in enumerate(path.split(".")):
        name, bracket, index = segment.partition("[")
        names[f"{placeholder}_{j}"] = name
        parts.append(f"{placeholder}_{j}" + (f"{bracket}{index}" if bracket else ""))
    return ".".join(parts)


class RecordStore:
    """Base of the per-kind stores: one table, one clock, expired items treated as absent; lists are
    paged by cursors signed with ``cursor_secret``."""

    def __init__(self, table: Table, clock: Clock, cursor_secret: bytes | None = None) -> None:
        self._table = table
        self._clock = clock
        # Only the API pages lists: the other entry points build stores without a secret.
        self._cursors = CursorSigner(cursor_secret) if cursor_secret else None

    def _now(self) -> int:
        return int(self._clock())

    def is_reachable(self) -> bool:
        """Whether the table answers a read (of a key no record has: half a read unit)."""
        try:
            self._table.get_item(Key=HEALTH_PROBE_KEY)
        except (ClientError, BotoCoreError):
            return False
        return True

    def _is_live(self, item: Mapping[str, Any]) -> bool:
        # AWS deletes expired items up to days late (moto never does): expiry is decided on read.
        expires_at = item.get("expires_at")
        return expires_at is None or int(expires_at) > self._now()

    def _live_condition(self) -> ConditionBase:
        return Attr("pk").exists() & (Attr("expires_at").not_exists() | Attr("expires_at").gt(self._now()))

    def _get_live(self, key: Item, what: str) -> Item:
        """Read one item with strong consistency. Raises NotFoundError if absent or expired."""
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        if item is None or not self._is_live(item):
            raise NotFoundError(f"{what} not found")
        return from_item(item)

    def _put_new(self, item: Item, what: str) -> None:
        """Create an item. Raises AlreadyExistsError if the key is taken."""
        try:
            self._table.put_item(Item=to_item(item), ConditionExpression=Attr("pk").not_exists())
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise AlreadyExistsError(f"{what} already exists") from exc
            if exc.response["Error"]["Code"] == "ValidationException":
                raise InvalidInputError(REFUSED_RECORD) from exc
            raise

    def _update_guarded(
        self,
        key: Item,
        what: str,
        values: Mapping[str, Any],
        *,
        allowed_statuses: Iterable[str] | None = None,
        condition: ConditionBase | None = None,
        remove: Iterable[str] = (),
    ) -> Item:
        """Set ``values`` in one conditional write; returns the new item.

        Raises NotFoundError if the item is absent or expired, IllegalTransitionError if its status
        is not in ``allowed_statuses`` (or ``condition`` fails).
        """
        guard = self._live_condition()
        if allowed_statuses is not None:
            guard = guard & Attr("status").is_in(sorted(allowed_statuses))
        if condition is not None:
            guard = guard & condition
        # Placeholder prefixes differ from boto3's condition builder (#n0, :v0), which shares the request.
        names: dict[str, str] = {}
        sets = [f"{document_path(path, f'#set{i}', names)} = :set{i}" for i, path in enumerate(values)]
        expression = "SET " + ", ".join(sets)
        removed = [document_path(path, f"#remove{i}", names) for i, path in enumerate(remove)]
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        try:
            response = self._table.update_item(
                Key=key,
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":set{i}": _to_dynamo(v) for i, v in enumerate(values.values())},
                ConditionExpression=guard,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = cast("Mapping[str, Any] | None", exc.response.get("Item"))
            self._raise_for_failed_guard(old, key, what)
        return from_item(response["Attributes"])

    def _raise_for_failed_guard(self, old: Mapping[str, Any] | None, key: Item, what: str) -> None:
        if old is None:
            # Not every backend returns the old item: one consistent read decides.
            old = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        else:
            old = _deserialize(old)
        if old is None or not self._is_live(old):
            raise NotFoundError(f"{what} not found")
        status = str(old.get("status"))
        raise IllegalTransitionError(f"{what} is {status}; that change is not allowed")

    def _query_items(self, partition: str, prefix: str = "", **query: Any) -> Iterator[Item]:
        """The items of one partition (those whose sort key starts with ``prefix``), read strongly
        consistent, page after page; lazy, so a reader that stops early reads no further page."""
        condition: ConditionBase = Key("pk").eq(partition)
        if prefix:
            condition = condition & Key("sk").begins_with(prefix)
        query = {"KeyConditionExpression": condition, "ConsistentRead": True, **query}
        while True:
            response = self._table.query(**query)
            yield from (from_item(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _delete_live(self, key: Item, what: str, condition: ConditionBase | None = None) -> Item:
        """Delete a live item; returns it. Raises NotFoundError if absent, expired or not matching."""
        guard = self._live_condition() if condition is None else self._live_condition() & condition
        try:
            response = self._table.delete_item(Key=key, ConditionExpression=guard, ReturnValues="ALL_OLD")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise NotFoundError(f"{what} not found") from exc
            raise
        return from_item(response["Attributes"])

    def _query_recent(
        self,
        partition: str,
        limit: int,
        cursor: str | None,
        status: str | None = None,
        match: Mapping[str, str | None] | None = None,
        tags: TagFilter | None = None,
    ) -> tuple[list[Item], str | None]:
        """One page of a kind's items from the listing index, newest first, expired ones dropped;
        ``status`` and each non-None value in ``match`` must equal the item's attribute, and ``tags``
        (Compox's rule) must hold for its `tags`.

        Raises InvalidCursorError (a cursor not issued for this listing), InvalidInputError (DynamoDB
        refused a filter value).
        """
        if self._cursors is None:
            raise RuntimeError("this store was built without a cursor secret (CURSOR_SECRET)")
        start = to_item(self._cursors.decode(cursor, partition)) if cursor else None
        query_filter: ConditionBase = Attr("expires_at").not_exists() | Attr("expires_at").gt(self._now())
        for name, value in {"status": status, **(match or {})}.items():
            if value is not None:
                query_filter = query_filter & Attr(name).eq(value)
        for tag in tags.positive if tags else ():
            query_filter = query_filter & Attr("tags").contains(tag)
        for tag in tags.negative if tags else ():
            query_filter = query_filter & ~Attr("tags").contains(tag)
        items: list[Item] = []
        for _ in range(MAX_QUERY_ROUNDS):
            kwargs: dict[str, Any] = {
                "IndexName": GSI_NAME,
                "KeyConditionExpression": Key("gsi1pk").eq(partition),
                "FilterExpression": query_filter,
                "ScanIndexForward": False,
                # Limit counts items read before filtering: ask only for what the page still needs.
                "Limit": limit - len(items),
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._query_page(kwargs)
            items.extend(from_item(i) for i in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start or len(items) >= limit:
                break
        return items, self._cursors.encode(from_item(start), partition) if start else None

    def _query_since(self, partition: str, since: float, limit: int) -> tuple[list[Item], bool]:
        """A kind's live items created at or after ``since`` from the listing index, newest first, at
        most ``limit``; and whether more were left (a key range on the sort key, never a Scan)."""
        condition = Key("gsi1pk").eq(partition) & Key("gsi1sk").gte(listing_sort_key(since, ""))
        live: ConditionBase = Attr("expires_at").not_exists() | Attr("expires_at").gt(self._now())
        items: list[Item] = []
        start: dict[str, Any] | None = None
        while len(items) < limit:
            kwargs: dict[str, Any] = {
                "IndexName": GSI_NAME,
                "KeyConditionExpression": condition,
                "FilterExpression": live,
                "ScanIndexForward": False,
                "Limit": limit - len(items),
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._table.query(**kwargs)
            items.extend(from_item(i) for i in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return items, False
        return items, True

    def _query_page(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(self._table.query(**kwargs))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ValidationException":
                raise
            # The key condition is ours and the start key signed: what DynamoDB refused is a filter value
            # the client sent (a tag too long, too many of them), never a server error.
            raise InvalidInputError("this list's filters were refused; send fewer or shorter ones") from exc

    def transact(self, writes: list[Write]) -> list[str] | None:
        """Run the writes (``{"Put" | "Update" | "Delete" | "ConditionCheck": spec}``, a spec's
        ``Condition`` a boto3 condition) as one transaction; the writes may be any store's, since every
        store shares the table. None when it went through, else each write's cancellation reason code
        ("None" for the writes that were not the cause).

        Raises InvalidInputError (DynamoDB refused a written value: REFUSED_RECORD).
        """
        items = [self._transaction_item(write) for write in writes]
        try:
            # Built as plain dicts; the stubs type each action as its own TypedDict.
            self._table.meta.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ValidationException":
                raise InvalidInputError(REFUSED_RECORD) from exc
            if code != "TransactionCanceledException":
                raise
            found = cast("list[dict[str, Any]]", exc.response.get("CancellationReasons", []))
            reasons = [str(r.get("Code", "None")) for r in found] or ["Unknown"] * len(items)
            # Inside a transaction DynamoDB refuses an item's size or values as a cancellation reason.
            if "ValidationError" in reasons:
                raise InvalidInputError(REFUSED_RECORD) from exc
            return reasons
        return None

    def _transaction_item(self, write: Write) -> dict[str, Any]:
        ((action, spec),) = write.items()
        body: dict[str, Any] = {"TableName": self._table.name}
        body.update({k: v for k, v in spec.items() if k != "Condition"})
        if "Condition" in spec:
            # boto3 hoists a Condition object's placeholders to the request's top level, which
            # TransactWriteItems does not have: each item carries its own.
            built = ConditionExpressionBuilder().build_expression(spec["Condition"])
            body["ConditionExpression"] = built.condition_expression
            names = {**body.get("ExpressionAttributeNames", {}), **built.attribute_name_placeholders}
            body["ExpressionAttributeNames"] = names
            if built.attribute_value_placeholders:
                values = {**body.get("ExpressionAttributeValues", {})}
                values.update(to_item(built.attribute_value_placeholders))
                body["ExpressionAttributeValues"] = values
        return {action: body}

    def _get_many(self, keys: list[Item]) -> list[Item]:
        """The live items of ``keys`` (strongly consistent), in no particular order."""
        found: list[Item] = []
        client = self._table.meta.client
        for start in range(0, len(keys), MAX_BATCH_READ):
            pending: dict[str, Any] = {
                self._table.name: {"Keys": keys[start : start + MAX_BATCH_READ], "ConsistentRead": True}
            }
            while pending:
                response = client.batch_get_item(RequestItems=pending)
                found.extend(from_item(i) for i in response["Responses"].get(self._table.name, []))
                pending = cast("dict[str, Any]", response.get("UnprocessedKeys") or {})
        return [item for item in found if self._is_live(item)]


class TenantRecordStore(RecordStore, Generic[R]):
    """A store of one record kind owned by tenants: keys, create, get, cursor lists, guarded updates.

    Another tenant's record is answered exactly like a missing one.
    """

    kind: ClassVar[str]
    id_field: ClassVar[str]
    model: type[R]

    def key(self, record_id: str) -> Item:
        """Primary key of one record."""
        return record_key(self.kind, record_id)

    def item_of(self, record: R) -> Item:
        """The stored item of a record: keys, listing keys and fields (DynamoDB-safe)."""
        record_id = str(getattr(record, self.id_field))
        return to_item(
            {
                **self.key(record_id),
                "gsi1pk": listing_partition(self.kind, record.tenant),
                "gsi1sk": listing_sort_key(record.created_at, record_id),
                **self._dump(record),
            }
        )

    def create_write(self, record: R) -> Write:
        """The transaction write that creates ``record`` (fails if its id is taken)."""
        return {"Put": {"Item": self.item_of(record), "Condition": Attr("pk").not_exists()}}

    def create(self, record: R) -> None:
        """Store a new record. Raises AlreadyExistsError."""
        self._put_new(self.item_of(record), self.kind)

    def get(self, record_id: str, tenant: str | None = None) -> R:
        """Load a live record (of ``tenant`` when given). Raises NotFoundError."""
        record = self.model.model_validate(self._get_live(self.key(record_id), self.kind))
        if tenant is not None and record.tenant != tenant:
            raise NotFoundError(f"{self.kind} not found")
        return record

    def get_many(self, record_ids: list[str], tenant: str) -> dict[str, R]:
        """The live records of ``tenant`` among ``record_ids``, by id (one batched read); missing,
        expired and foreign ones are absent."""
        unique = list(dict.fromkeys(record_ids))
        records = [self.model.model_validate(i) for i in self._get_many([self.key(i) for i in unique])]
        return {str(getattr(r, self.id_field)): r for r in records if r.tenant == tenant}

    def get_all(self, record_ids: list[str], tenant: str) -> list[R]:
        """The live records of ``tenant`` for ``record_ids`` (each once, in order; one batched read).

        Raises NotFoundError naming every id that is missing, expired or another tenant's.
        """
        found = self.get_many(record_ids, tenant)
        missing = [i for i in dict.fromkeys(record_ids) if i not in found]
        if missing:
            raise NotFoundError(f"{self.kind}s not found: {', '.join(missing)}")
        return [found[i] for i in dict.fromkeys(record_ids)]

    def list_recent(
        self,
        tenant: str,
        limit: int,
        cursor: str | None,
        status: str | None = None,
        match: Mapping[str, str | None] | None = None,
        tags: TagFilter | None = None,
    ) -> tuple[list[R], str | None]:
        """One page of ``tenant``'s live records, newest first.

        Raises InvalidCursorError (a cursor not issued for this list), InvalidInputError (bad filters).
        """
        items, next_cursor = self._query_recent(
            listing_partition(self.kind, tenant), limit, cursor, status, match, tags
        )
        return [self.model.model_validate(i) for i in items], next_cursor

    def list_since(self, tenant: str, since: float, limit: int) -> tuple[list[R], bool]:
        """``tenant``'s live records created at or after ``since``, newest first, at most ``limit``; and
        whether more were left out."""
        items, more = self._query_since(listing_partition(self.kind, tenant), since, limit)
        return [self.model.model_validate(i) for i in items], more

    def delete(self, record_id: str, tenant: str, condition: ConditionBase | None = None) -> R:
        """Delete a live record of ``tenant``; returns it. Raises NotFoundError (also when ``condition``
        fails: callers that need to tell the two apart read first)."""
        owned = Attr("tenant").eq(tenant) if condition is None else Attr("tenant").eq(tenant) & condition
        return self.model.model_validate(self._delete_live(self.key(record_id), self.kind, owned))

    def _update(
        self,
        record_id: str,
        values: Mapping[str, Any],
        *,
        allowed_statuses: Iterable[str] | None = None,
        condition: ConditionBase | None = None,
        remove: Iterable[str] = (),
    ) -> R:
        item = self._update_guarded(
            self.key(record_id),
            self.kind,
            values,
            allowed_statuses=allowed_statuses,
            condition=condition,
            remove=remove,
        )
        return self.model.model_validate(item)

    def _dump(self, record: R) -> Item:
        return record.model_dump(mode="json")


class StatusRecordStore(TenantRecordStore[R]):
    """A tenant record store whose records move along one transition table (status → targets)."""

    transitions: ClassVar[Mapping[Any, frozenset[Any]]]

    def transition(
        self,
        record_id: str,
        target: StrEnum,
        values: Mapping[str, Any] | None = None,
        sources: Iterable[StrEnum] | None = None,
        condition: ConditionBase | None = None,
    ) -> R:
        """Move the record to ``target`` (from ``sources``, by default every status allowed to) with
        ``values``, as one conditional write. Raises NotFoundError, IllegalTransitionError."""
        allowed = sources_in(self.transitions, target) if sources is None else sources
        return self._update(
            record_id,
            {"status": target.value, "updated_at": self._clock(), **(values or {})},
            allowed_statuses=[s.value for s in allowed],
            condition=condition,
        )


def _deserialize(item: Mapping[str, Any]) -> Item:
    # ReturnValuesOnConditionCheckFailure comes back in the low-level wire format.
    return {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}
