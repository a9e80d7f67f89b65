"""CursorSigner: a listing's start key in, the same key out, and nothing else accepted."""

from __future__ import annotations

import base64
import json

import pytest
from stratus.errors import InvalidCursorError
from stratus.stores.cursors import CursorSigner

PARTITION = "file#t1"
KEY = {"gsi1pk": PARTITION, "gsi1sk": "000004102444800000#abc", "pk": "file#abc", "sk": "file"}


@pytest.fixture
def signer() -> CursorSigner:
    return CursorSigner(b"k" * 64)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_decode_returns_the_encoded_key(signer: CursorSigner) -> None:
    cursor = signer.encode(KEY, PARTITION)

    assert signer.decode(cursor, PARTITION) == KEY


def test_cursor_is_url_safe(signer: CursorSigner) -> None:
    cursor = signer.encode(KEY, PARTITION)

    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_decode_refuses_a_cursor_of_another_listing(signer: CursorSigner) -> None:
    cursor = signer.encode(KEY, PARTITION)

    with pytest.raises(InvalidCursorError):
        signer.decode(cursor, "file#t2")


def test_decode_refuses_a_cursor_signed_with_another_secret(signer: CursorSigner) -> None:
    cursor = CursorSigner(b"another secret").encode(KEY, PARTITION)

    with pytest.raises(InvalidCursorError):
        signer.decode(cursor, PARTITION)


def test_decode_refuses_an_altered_key(signer: CursorSigner) -> None:
    _, _, signature = signer.encode(KEY, PARTITION).rpartition(".")
    altered = _b64(json.dumps({**KEY, "gsi1sk": 5}).encode())

    with pytest.raises(InvalidCursorError):
        signer.decode(f"{altered}.{signature}", PARTITION)


@pytest.mark.parametrize(
    "cursor",
    ["", ".", "not-ours", "a.b", "é.é", _b64(json.dumps(KEY).encode()), f"{_b64(b'{}')}.{_b64(b'x' * 32)}"],
    ids=["empty", "dot", "word", "short", "non-ascii", "unsigned-key", "bad-signature"],
)
def test_decode_refuses_what_it_did_not_sign(signer: CursorSigner, cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        signer.decode(cursor, PARTITION)


def test_signer_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="empty"):
        CursorSigner(b"")
