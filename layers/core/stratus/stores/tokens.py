"""TokenStore: API token records, and the lookup item that finds a token's tenant by its hash."""

from __future__ import annotations

from boto3.dynamodb.conditions import Attr

from stratus.errors import ConflictError, NotFoundError
from stratus.models.tokens import TokenRecord
from stratus.stores.base import Item, TenantRecordStore, Write, from_item, to_item

LOOKUP_KIND = "token-hash"


def lookup_key(token_hash: str) -> Item:
    """Primary key of the item that maps a token's hash to its tenant and id."""
    return {"pk": f"{LOOKUP_KIND}#{token_hash}", "sk": LOOKUP_KIND}


class TokenStore(TenantRecordStore[TokenRecord]):
    """Tokens: the record and its hash lookup are written and deleted together."""

    kind = "token"
    id_field = "token_id"
    model = TokenRecord

    def create(self, record: TokenRecord) -> None:
        """Store a new token and its lookup item in one transaction. Raises ConflictError."""
        lookup = to_item(
            {
                **lookup_key(record.token_hash),
                "tenant": record.tenant,
                "token_id": record.token_id,
                "expires_at": record.expires_at,
            }
        )
        writes = [
            self.create_write(record),
            {"Put": {"Item": lookup, "Condition": Attr("pk").not_exists()}},
        ]
        if self.transact(writes) is not None:
            raise ConflictError("a token with this id or secret exists; try again")

    def find_by_hash(self, token_hash: str) -> tuple[str, str] | None:
        """The live token's (tenant, token_id) for a secret's hash, or None."""
        item = self._table.get_item(Key=lookup_key(token_hash), ConsistentRead=True).get("Item")
        if item is None or not self._is_live(item):
            return None
        found = from_item(item)
        return str(found["tenant"]), str(found["token_id"])

    def revoke(self, token_id: str, tenant: str) -> TokenRecord:
        """Delete a token of ``tenant`` and its lookup item together; returns it. Raises NotFoundError."""
        record = self.get(token_id, tenant)
        owned = Attr("tenant").eq(tenant)
        writes: list[Write] = [
            {"Delete": {"Key": self.key(token_id), "Condition": owned}},
            {"Delete": {"Key": lookup_key(record.token_hash)}},
        ]
        if self.transact(writes) is not None:
            raise NotFoundError("token not found")
        return record
