"""Page cursors: a listing's LastEvaluatedKey, signed (HMAC-SHA256) and bound to the listing it pages.

A client can neither forge a start key (it would reach DynamoDB, whose refusal is a server error) nor
replay one listing's cursor on another (another tenant's, or another kind's): both fail the signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from stratus.errors import InvalidCursorError

if TYPE_CHECKING:
    from collections.abc import Mapping

Item = dict[str, Any]
# The cursor is "<key>.<signature>", each base64url without padding.
SEPARATOR = "."
REFUSAL = "cursor is not one this API issued for this list; start again without a cursor"


class CursorSigner:
    """Turns start keys into cursors and back, for the listing partition they were issued for."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a cursor secret must not be empty")
        self._secret = secret

    def encode(self, last_key: Mapping[str, Any], partition: str) -> str:
        """The opaque cursor for a LastEvaluatedKey (plain JSON values) of ``partition``'s listing."""
        payload = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
        return _b64(payload) + SEPARATOR + _b64(self._sign(payload, partition))

    def decode(self, cursor: str, partition: str) -> Item:
        """The start key (plain JSON values) a cursor stands for.

        Raises InvalidCursorError for a cursor we did not sign for ``partition``.
        """
        encoded_payload, _, encoded_signature = cursor.rpartition(SEPARATOR)
        try:
            payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursorError(REFUSAL) from exc
        if not hmac.compare_digest(signature, self._sign(payload, partition)):
            raise InvalidCursorError(REFUSAL)
        key = json.loads(payload)  # signed by us: well-formed
        if not isinstance(key, dict) or key.get("gsi1pk") != partition:
            raise InvalidCursorError(REFUSAL)
        return key

    def _sign(self, payload: bytes, partition: str) -> bytes:
        # The partition (kind and tenant) is signed with the key: a cursor pages only its own listing.
        message = partition.encode() + b"\0" + payload
        return hmac.new(self._secret, message, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))
