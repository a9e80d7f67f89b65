"""Sessions: pickled items shared by the executions of one token, kept in S3 as a bounded cache."""

from __future__ import annotations

import math
import pickle
from typing import TYPE_CHECKING, Any

from stratus.errors import NotFoundError, PayloadTooLargeError
from stratus.stores.layout import session_item_key, session_prefix

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stratus.clock import Clock
    from stratus.stores.objects import ObjectStore

# As Compox's sessions (~24 h). Age counts from an item's write, not its last use: refreshing it on
# reads would rewrite the object. The bucket's lifecycle rule deletes it later still (whole days, late).
SESSION_LIFETIME_S = 24 * 3600
SESSION_ITEM_MAX_BYTES = 256 * 1024**2
SESSION_MAX_BYTES = 1024**3
SESSION_MAX_ITEMS = 64
# User metadata: when the item was written, by the stores' clock (S3's LastModified is the server's).
WRITTEN_AT = "written-at"


class SessionStore:
    """One session's items: each lives SESSION_LIFETIME_S after its write, and a put evicts the
    session's oldest other items while it holds over ``max_items`` items or ``max_bytes`` bytes."""

    def __init__(
        self,
        objects: ObjectStore,
        clock: Clock,
        tenant: str,
        token: str,
        *,
        max_item_bytes: int = SESSION_ITEM_MAX_BYTES,
        max_bytes: int = SESSION_MAX_BYTES,
        max_items: int = SESSION_MAX_ITEMS,
    ) -> None:
        self._objects = objects
        self._clock = clock
        self._tenant = tenant
        self._token = token
        self._max_item_bytes = max_item_bytes
        self._max_bytes = max_bytes
        self._max_items = max_items

    def get(self, key: str) -> Any:
        """The item under ``key``, unpickled. Raises KeyError when it is missing or expired."""
        # Only algorithms of this tenant's session wrote it, and algorithms run arbitrary code anyway.
        return pickle.loads(self.get_body(key))  # noqa: S301

    def get_body(self, key: str) -> bytes:
        """The pickled item under ``key``, as stored: the worker hands it to the algorithm's sandbox,
        which unpickles it there. Raises KeyError when it is missing or expired."""
        try:
            body, metadata = self._objects.get_with_metadata(self._key(key))
        except NotFoundError:
            raise KeyError(key) from None
        if not self._is_live(metadata):
            raise KeyError(key)
        return body

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` pickled under ``key`` and evict beyond the caps. Raises PayloadTooLargeError
        when the pickled item is over ``max_item_bytes``."""
        self.put_body(key, pickle.dumps(value, pickle.HIGHEST_PROTOCOL))

    def put_body(self, key: str, body: bytes) -> None:
        """Store an item already pickled (by the algorithm's sandbox) under ``key`` and evict beyond the
        caps. Raises PayloadTooLargeError when it is over ``max_item_bytes``."""
        if len(body) > self._max_item_bytes:
            raise PayloadTooLargeError(
                f"session item {key!r} is {len(body)} bytes pickled; the limit is {self._max_item_bytes}"
            )
        object_key = self._key(key)
        self._objects.put_temporary_with_metadata(object_key, body, {WRITTEN_AT: str(self._clock())})
        self._evict_beyond_caps(keep=object_key)

    def delete(self, key: str) -> None:
        """Remove the item under ``key``. Raises KeyError when it is missing or expired."""
        object_key = self._key(key)
        try:
            metadata = self._objects.read_metadata(object_key)
        except NotFoundError:
            raise KeyError(key) from None
        if not self._is_live(metadata):
            raise KeyError(key)
        self._objects.delete(object_key)

    def _key(self, key: str) -> str:
        return session_item_key(self._tenant, self._token, key)

    def _is_live(self, metadata: Mapping[str, str]) -> bool:
        return self._clock() < _written_at(metadata) + SESSION_LIFETIME_S

    def _evict_beyond_caps(self, keep: str) -> None:
        # Racing puts may each evict, dropping more than needed: harmless for a cache.
        sizes = self._objects.list_sizes(session_prefix(self._tenant, self._token))
        count, total = len(sizes), sum(sizes.values())
        if self._is_within_caps(count, total):
            return
        # Only now read the write times: one HEAD per item. Expired items are the oldest, so go first.
        for object_key in sorted((k for k in sizes if k != keep), key=self._stored_written_at):
            self._objects.delete(object_key)
            count, total = count - 1, total - sizes[object_key]
            if self._is_within_caps(count, total):
                return

    def _is_within_caps(self, count: int, total: int) -> bool:
        return count <= self._max_items and total <= self._max_bytes

    def _stored_written_at(self, object_key: str) -> float:
        try:
            return _written_at(self._objects.read_metadata(object_key))
        except NotFoundError:
            return -math.inf  # deleted meanwhile: deleting it again is a no-op


def _written_at(metadata: Mapping[str, str]) -> float:
    # An object without our stamp was not written by this module: treat it as long expired.
    return float(metadata.get(WRITTEN_AT, "-inf"))
