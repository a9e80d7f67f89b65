"""AlgorithmStore: algorithms (owner + name + major), their minor versions, the id → algorithm alias, and
the jobs that hold a version."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from stratus.errors import AlgorithmInUseError, ConflictError, NotFoundError
from stratus.models.algorithms import (
    BUILTIN_OWNER,
    AlgorithmRecord,
    AlgorithmVersionRecord,
    is_visible_to,
)
from stratus.models.files import describe_holders
from stratus.stores.base import (
    MAX_TRANSACTION_ITEMS,
    Item,
    RecordStore,
    from_item,
    listing_partition,
    to_item,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from stratus.stores.base import Write

KIND = "algorithm"
FIRST_MINOR = 0  # Compox counts minor versions (builds) from 0
VERSION_PREFIX = "version#"
# Two deploys of one algorithm racing: the loser re-reads and tries the next minor.
MAX_DEPLOY_ATTEMPTS = 5
# A removal writes the algorithm (or deletes it and its alias) beside its version deletes, in one
# transaction of at most 100 items.
MAX_VERSIONS_PER_REMOVAL = MAX_TRANSACTION_ITEMS - 2
HELD_BY = "held_by"


def algorithm_key(owner: str, name: str, major: int) -> Item:
    """Primary key of an algorithm: its owner's namespace (a tenant, or BUILTIN_OWNER) first."""
    return {"pk": f"{KIND}#{owner}#{name}#{major}", "sk": KIND}


def owner_partition(owner: str) -> str:
    """GSI partition listing one owner's algorithms."""
    return listing_partition(KIND, owner)


def owner_sort_key(name: str, major: int) -> str:
    """GSI sort key: algorithms list by name, then major version."""
    return f"{name}#{major:08d}"


def alias_key(algorithm_id: str) -> Item:
    """Primary key of the item that maps an algorithm id back to owner, name and major."""
    return {"pk": _id_partition(algorithm_id), "sk": "alias"}


def version_key(algorithm_id: str, minor: int) -> Item:
    """Primary key of one minor version: beside the alias, so a job's version (a given minor, or the
    latest) is one read by algorithm id; zero-padded so versions sort in order."""
    return {"pk": _id_partition(algorithm_id), "sk": f"{VERSION_PREFIX}{minor:08d}"}


def _id_partition(algorithm_id: str) -> str:
    return f"{KIND}-id#{algorithm_id}"


class AlgorithmStore(RecordStore):
    """Algorithms never expire; a deploy writes the algorithm and its new version in one transaction.

    A tenant sees the built-ins and its own algorithms; another tenant's is answered as a missing one.
    """

    def register(
        self,
        owner: str,
        name: str,
        major: int,
        metadata: dict[str, Any],
        make_version: Callable[[str, int], AlgorithmVersionRecord],
    ) -> AlgorithmVersionRecord:
        """Add the next minor version of ``owner``'s ``name``/``major`` (creating the algorithm on first
        deploy).

        ``make_version(algorithm_id, minor)`` builds the version record once its number is known.
        Raises ConflictError if concurrent deploys keep winning the race.
        """
        for _ in range(MAX_DEPLOY_ATTEMPTS):
            current = self.find(owner, name, major)
            algorithm_id = current.algorithm_id if current else str(uuid.uuid4())
            minor = current.latest_minor + 1 if current else FIRST_MINOR
            version = make_version(algorithm_id, minor)
            writes = (
                self._first_deploy(version, metadata)
                if current is None
                else self._next_deploy(current, version, metadata)
            )
            if self.transact(writes) is None:
                return version
        raise ConflictError(f"algorithm {name} {major} is being deployed concurrently; try again")

    def find(self, owner: str, name: str, major: int) -> AlgorithmRecord | None:
        """``owner``'s algorithm, or None."""
        item = self._table.get_item(Key=algorithm_key(owner, name, major), ConsistentRead=True).get("Item")
        return _algorithm(from_item(item)) if item else None

    def get(self, owner: str, name: str, major: int) -> AlgorithmRecord:
        """``owner``'s algorithm. Raises NotFoundError."""
        found = self.find(owner, name, major)
        if found is None:
            raise NotFoundError(f"algorithm {name} {major} not found")
        return found

    def resolve(self, name: str, major: int, tenant: str) -> AlgorithmRecord:
        """The algorithm ``tenant`` means by name: its own, else the built-in (one batched read).

        Raises NotFoundError.
        """
        owners = list(dict.fromkeys([tenant, BUILTIN_OWNER]))
        found = {
            record.owner: record
            for record in (
                _algorithm(i) for i in self._get_many([algorithm_key(o, name, major) for o in owners])
            )
        }
        for owner in owners:
            if owner in found:
                return found[owner]
        raise NotFoundError(f"algorithm {name} {major} not found")

    def get_by_id(self, algorithm_id: str, tenant: str) -> AlgorithmRecord:
        """The algorithm with this id, a built-in or ``tenant``'s own. Raises NotFoundError."""
        alias = self._table.get_item(Key=alias_key(algorithm_id), ConsistentRead=True).get("Item")
        if alias is None or not is_visible_to(str(alias.get("owner")), tenant):
            raise NotFoundError(f"algorithm {algorithm_id} not found")
        found = from_item(alias)
        return self.get(str(found["owner"]), str(found["name"]), int(found["major"]))

    def get_version_by_id(
        self, algorithm_id: str, tenant: str, minor: int | None = None
    ) -> AlgorithmVersionRecord:
        """One minor version (the latest when ``minor`` is None) of the algorithm with this id, a
        built-in or ``tenant``'s own, in one read. Raises NotFoundError."""
        if minor is not None:
            item = self._table.get_item(Key=version_key(algorithm_id, minor), ConsistentRead=True).get("Item")
            found = [item] if item else []
        else:
            found = self._table.query(
                KeyConditionExpression=Key("pk").eq(_id_partition(algorithm_id))
                & Key("sk").begins_with(VERSION_PREFIX),
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            ).get("Items", [])
        versions = [AlgorithmVersionRecord.model_validate(from_item(i)) for i in found]
        if not versions or not is_visible_to(versions[0].owner, tenant):
            if minor is not None and self._is_visible(algorithm_id, tenant):
                raise NotFoundError(f"algorithm {algorithm_id} has no minor version {minor}")
            raise NotFoundError(f"algorithm {algorithm_id} not found")
        return versions[0]

    def _is_visible(self, algorithm_id: str, tenant: str) -> bool:
        # Only to word a miss: "no such minor version" of a visible algorithm, else "not found".
        alias = self._table.get_item(Key=alias_key(algorithm_id)).get("Item")
        return alias is not None and is_visible_to(str(alias.get("owner")), tenant)

    def list_visible(self, tenant: str) -> list[AlgorithmRecord]:
        """The built-ins and ``tenant``'s own algorithms, by name and major (its own first on a tie)."""
        owners = list(dict.fromkeys([tenant, BUILTIN_OWNER]))
        records = [record for owner in owners for record in self._list_owned(owner)]
        return sorted(records, key=lambda r: (r.name, r.major, owners.index(r.owner)))

    def _list_owned(self, owner: str) -> list[AlgorithmRecord]:
        items: list[Item] = []
        kwargs: dict[str, Any] = {"IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p"}
        kwargs["ExpressionAttributeValues"] = {":p": owner_partition(owner)}
        while True:
            response = self._table.query(**kwargs)
            items.extend(from_item(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return [_algorithm(i) for i in items]
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # --- Jobs hold the version they run, so it is not deleted under them -----------------------------

    def hold_write(self, algorithm_id: str, minor: int, holder: str) -> Write:
        """The transaction write that adds ``holder`` to the version's holders; it fails when the version
        is gone (a delete won), so a job is never accepted for a deleted version."""
        return {
            "Update": {
                "Key": version_key(algorithm_id, minor),
                "UpdateExpression": "ADD #held :holder",
                "ExpressionAttributeNames": {"#held": HELD_BY},
                "ExpressionAttributeValues": {":holder": {holder}},
                # Without it, ADD on a missing key would create a stray version item.
                "Condition": Attr("pk").exists(),
            }
        }

    def release(self, algorithm_id: str, minor: int, holder: str) -> None:
        """Drop ``holder``'s hold on the version. Idempotent: a holder not there, or a version gone, is
        left alone."""
        try:
            self._table.update_item(
                Key=version_key(algorithm_id, minor),
                UpdateExpression="DELETE #held :holder",
                ExpressionAttributeNames={"#held": HELD_BY},
                ExpressionAttributeValues={":holder": {holder}},
                ConditionExpression=Attr("pk").exists(),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def holders(self, algorithm_id: str) -> dict[int, set[str]]:
        """The jobs holding each minor version of the algorithm (versions nobody holds are absent)."""
        items = self._query_items(
            _id_partition(algorithm_id),
            VERSION_PREFIX,
            ProjectionExpression="minor, #held",
            ExpressionAttributeNames={"#held": HELD_BY},
        )
        return {int(i["minor"]): {str(h) for h in i[HELD_BY]} for i in items if i.get(HELD_BY)}

    # --- Removal -----------------------------------------------------------------------------------

    def remove_versions(self, algorithm: AlgorithmRecord, minors: Iterable[int]) -> AlgorithmRecord | None:
        """Delete minor versions of ``algorithm`` (read just before) that no job holds; the algorithm
        goes with its last one (then None is returned). Each transaction deletes up to
        MAX_VERSIONS_PER_REMOVAL versions and updates the algorithm with them, so a hold taken meanwhile
        refuses its transaction whole.

        Raises NotFoundError, AlgorithmInUseError (a job holds one), ConflictError (a concurrent deploy
        or delete changed the algorithm).
        """
        doomed = sorted(set(minors))
        unknown = [m for m in doomed if m not in algorithm.minors]
        if unknown:
            raise NotFoundError(
                f"algorithm {algorithm.name} {algorithm.major} has no minor version {unknown[0]}"
            )
        if not doomed:
            return algorithm
        *leading, last = [
            doomed[start : start + MAX_VERSIONS_PER_REMOVAL]
            for start in range(0, len(doomed), MAX_VERSIONS_PER_REMOVAL)
        ]
        current = algorithm
        for chunk in leading:
            updated = self._remove_chunk(current, chunk)
            if updated is None:  # unreachable: the last chunk's versions remain
                return None
            current = updated
        return self._remove_chunk(current, last)

    def _remove_chunk(self, current: AlgorithmRecord, doomed: list[int]) -> AlgorithmRecord | None:
        remaining = sorted(set(current.minors) - set(doomed))
        unchanged = Attr("latest_minor").eq(current.latest_minor) & Attr("updated_at").eq(current.updated_at)
        # The decisive check: a job's accept adds itself to held_by in a transaction conditional on the
        # version existing, so of an accept and a delete of the same version never both go through.
        unheld = Attr("pk").exists() & Attr(HELD_BY).not_exists()
        version_deletes: list[Write] = [
            {"Delete": {"Key": version_key(current.algorithm_id, m), "Condition": unheld}} for m in doomed
        ]
        writes: list[Write]
        updated: AlgorithmRecord | None
        key = algorithm_key(current.owner, current.name, current.major)
        if not remaining:
            writes = [
                {"Delete": {"Key": key, "Condition": unchanged}},
                {"Delete": {"Key": alias_key(current.algorithm_id)}},
                *version_deletes,
            ]
            updated = None
        else:
            latest = self.get_version_by_id(current.algorithm_id, current.owner, remaining[-1])
            updated = current.model_copy(
                update={
                    "latest_minor": latest.minor,
                    "minors": remaining,
                    "metadata": latest.metadata,
                    "environment": latest.environment,
                    "updated_at": self._clock(),
                }
            )
            writes = [
                {"Put": {"Item": self._algorithm_item(updated), "Condition": unchanged}},
                *version_deletes,
            ]
        if self.transact(writes) is None:
            return updated
        held = {m: h for m, h in self.holders(current.algorithm_id).items() if m in doomed}
        if held:
            raise AlgorithmInUseError(_in_use_message(current, held))
        raise ConflictError(f"algorithm {current.name} {current.major} changed while deleting; try again")

    def _first_deploy(
        self, version: AlgorithmVersionRecord, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        now = version.created_at
        record = AlgorithmRecord(
            algorithm_id=version.algorithm_id,
            owner=version.owner,
            name=version.name,
            major=version.major,
            latest_minor=version.minor,
            minors=[version.minor],
            metadata=metadata,
            environment=version.environment,
            created_at=now,
            updated_at=now,
        )
        absent = Attr("pk").not_exists()
        alias = {
            **alias_key(version.algorithm_id),
            "owner": version.owner,
            "name": version.name,
            "major": version.major,
        }
        return [
            {"Put": {"Item": self._algorithm_item(record), "Condition": absent}},
            {"Put": {"Item": alias, "Condition": absent}},
            {"Put": {"Item": self._version_item(version), "Condition": absent}},
        ]

    def _next_deploy(
        self, current: AlgorithmRecord, version: AlgorithmVersionRecord, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        updated = current.model_copy(
            update={
                "latest_minor": version.minor,
                "minors": [*current.minors, version.minor],
                "metadata": metadata,
                "environment": version.environment,
                "updated_at": version.created_at,
            }
        )
        unchanged = Attr("latest_minor").eq(current.latest_minor)
        return [
            {"Put": {"Item": self._algorithm_item(updated), "Condition": unchanged}},
            {"Put": {"Item": self._version_item(version), "Condition": Attr("pk").not_exists()}},
        ]

    def _algorithm_item(self, record: AlgorithmRecord) -> Item:
        return to_item(
            {
                **algorithm_key(record.owner, record.name, record.major),
                "gsi1pk": owner_partition(record.owner),
                "gsi1sk": owner_sort_key(record.name, record.major),
                **record.model_dump(mode="json"),
            }
        )

    def _version_item(self, version: AlgorithmVersionRecord) -> Item:
        return to_item(
            {**version_key(version.algorithm_id, version.minor), **version.model_dump(mode="json")}
        )


def _algorithm(item: Item) -> AlgorithmRecord:
    return AlgorithmRecord.model_validate({**item, "minors": sorted(int(m) for m in item.get("minors", []))})


def _in_use_message(algorithm: AlgorithmRecord, held: dict[int, set[str]]) -> str:
    versions = ", ".join(f"{m} (by {describe_holders(h)})" for m, h in sorted(held.items()))
    return (
        f"algorithm {algorithm.name} {algorithm.major} (id {algorithm.algorithm_id}): minor versions in "
        f"use by jobs that have not ended: {versions}; delete them once those jobs have ended"
    )
