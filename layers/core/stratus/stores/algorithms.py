"""AlgorithmStore: algorithms (name + major), their minor versions, and the id → name alias."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, Key

from stratus.errors import ConflictError, NotFoundError
from stratus.models.algorithms import AlgorithmRecord, AlgorithmVersionRecord
from stratus.stores.base import Item, RecordStore, from_item, to_item

if TYPE_CHECKING:
    from collections.abc import Callable

KIND = "algorithm"
LISTING_PARTITION = KIND  # algorithms are shared by every tenant, as in Compox
FIRST_MINOR = 0  # Compox counts minor versions (builds) from 0
VERSION_PREFIX = "version#"
# Two deploys of one algorithm racing: the loser re-reads and tries the next minor.
MAX_DEPLOY_ATTEMPTS = 5


def algorithm_key(name: str, major: int) -> Item:
    """Primary key of an algorithm."""
    return {"pk": f"{KIND}#{name}#{major}", "sk": KIND}


def alias_key(algorithm_id: str) -> Item:
    """Primary key of the item that maps an algorithm id back to name and major."""
    return {"pk": _id_partition(algorithm_id), "sk": "alias"}


def version_key(algorithm_id: str, minor: int) -> Item:
    """Primary key of one minor version: beside the alias, so a job's version (a given minor, or the
    latest) is one read by algorithm id; zero-padded so versions sort in order."""
    return {"pk": _id_partition(algorithm_id), "sk": f"{VERSION_PREFIX}{minor:08d}"}


def _id_partition(algorithm_id: str) -> str:
    return f"{KIND}-id#{algorithm_id}"


class AlgorithmStore(RecordStore):
    """Algorithms never expire; a deploy writes the algorithm and its new version in one transaction."""

    def register(
        self,
        name: str,
        major: int,
        metadata: dict[str, Any],
        make_version: Callable[[str, int], AlgorithmVersionRecord],
    ) -> AlgorithmVersionRecord:
        """Add the next minor version of ``name``/``major`` (creating the algorithm on first deploy).

        ``make_version(algorithm_id, minor)`` builds the version record once its number is known.
        Raises ConflictError if concurrent deploys keep winning the race.
        """
        for _ in range(MAX_DEPLOY_ATTEMPTS):
            current = self.find(name, major)
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

    def find(self, name: str, major: int) -> AlgorithmRecord | None:
        """The algorithm, or None."""
        item = self._table.get_item(Key=algorithm_key(name, major), ConsistentRead=True).get("Item")
        return _algorithm(from_item(item)) if item else None

    def get(self, name: str, major: int) -> AlgorithmRecord:
        """The algorithm. Raises NotFoundError."""
        found = self.find(name, major)
        if found is None:
            raise NotFoundError(f"algorithm {name} {major} not found")
        return found

    def get_by_id(self, algorithm_id: str) -> AlgorithmRecord:
        """The algorithm with this id. Raises NotFoundError."""
        return self.get(*self._name_and_major(algorithm_id))

    def get_version_by_id(self, algorithm_id: str, minor: int | None = None) -> AlgorithmVersionRecord:
        """One minor version of the algorithm with this id (the latest when ``minor`` is None), in one
        read. Raises NotFoundError."""
        if minor is not None:
            item = self._table.get_item(Key=version_key(algorithm_id, minor), ConsistentRead=True).get("Item")
            if item is None:
                raise NotFoundError(f"algorithm {algorithm_id} has no minor version {minor}")
            return AlgorithmVersionRecord.model_validate(from_item(item))
        items = self._table.query(
            KeyConditionExpression=Key("pk").eq(_id_partition(algorithm_id))
            & Key("sk").begins_with(VERSION_PREFIX),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        ).get("Items", [])
        if not items:
            raise NotFoundError(f"algorithm {algorithm_id} not found")
        return AlgorithmVersionRecord.model_validate(from_item(items[0]))

    def _name_and_major(self, algorithm_id: str) -> tuple[str, int]:
        alias = self._table.get_item(Key=alias_key(algorithm_id), ConsistentRead=True).get("Item")
        if alias is None:
            raise NotFoundError(f"algorithm {algorithm_id} not found")
        found = from_item(alias)
        return str(found["name"]), int(found["major"])

    def get_version(self, name: str, major: int, minor: int | None = None) -> AlgorithmVersionRecord:
        """One minor version (the latest when ``minor`` is None). Raises NotFoundError."""
        algorithm = self.get(name, major)
        minor = algorithm.latest_minor if minor is None else minor
        try:
            return self.get_version_by_id(algorithm.algorithm_id, minor)
        except NotFoundError:
            raise NotFoundError(f"algorithm {name} {major} has no minor version {minor}") from None

    def list_all(self) -> list[AlgorithmRecord]:
        """Every algorithm, by name."""
        items: list[Item] = []
        kwargs: dict[str, Any] = {"IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p"}
        kwargs["ExpressionAttributeValues"] = {":p": LISTING_PARTITION}
        while True:
            response = self._table.query(**kwargs)
            items.extend(from_item(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return [_algorithm(i) for i in items]
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def remove_version(self, name: str, major: int, minor: int) -> AlgorithmRecord | None:
        """Delete one minor version; the algorithm goes with its last one (then None is returned).

        Raises NotFoundError, ConflictError (a concurrent deploy or delete changed the algorithm).
        """
        current = self.get(name, major)
        if minor not in current.minors:
            raise NotFoundError(f"algorithm {name} {major} has no minor version {minor}")
        remaining = sorted(set(current.minors) - {minor})
        unchanged = Attr("latest_minor").eq(current.latest_minor) & Attr("updated_at").eq(current.updated_at)
        version_delete: dict[str, Any] = {"Delete": {"Key": version_key(current.algorithm_id, minor)}}
        writes: list[dict[str, Any]]
        if not remaining:
            writes = [
                {"Delete": {"Key": algorithm_key(name, major), "Condition": unchanged}},
                {"Delete": {"Key": alias_key(current.algorithm_id)}},
                version_delete,
            ]
            updated = None
        else:
            latest = self.get_version(name, major, remaining[-1])
            updated = current.model_copy(
                update={
                    "latest_minor": latest.minor,
                    "minors": remaining,
                    "metadata": latest.metadata,
                    "updated_at": self._clock(),
                }
            )
            writes = [
                {"Put": {"Item": self._algorithm_item(updated), "Condition": unchanged}},
                version_delete,
            ]
        if self.transact(writes) is not None:
            raise ConflictError(f"algorithm {name} {major} changed while deleting; try again")
        return updated

    def _first_deploy(
        self, version: AlgorithmVersionRecord, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        now = version.created_at
        record = AlgorithmRecord(
            algorithm_id=version.algorithm_id,
            name=version.name,
            major=version.major,
            latest_minor=version.minor,
            minors=[version.minor],
            metadata=metadata,
            created_at=now,
            updated_at=now,
        )
        absent = Attr("pk").not_exists()
        alias = {**alias_key(version.algorithm_id), "name": version.name, "major": version.major}
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
                **algorithm_key(record.name, record.major),
                "gsi1pk": LISTING_PARTITION,
                "gsi1sk": f"{record.name}#{record.major:08d}",
                **record.model_dump(mode="json"),
            }
        )

    def _version_item(self, version: AlgorithmVersionRecord) -> Item:
        return to_item(
            {**version_key(version.algorithm_id, version.minor), **version.model_dump(mode="json")}
        )


def _algorithm(item: Item) -> AlgorithmRecord:
    return AlgorithmRecord.model_validate({**item, "minors": sorted(int(m) for m in item.get("minors", []))})
