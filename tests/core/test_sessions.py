"""SessionStore over moto: round trips, expiry by the clock, the item cap, eviction, isolation, delete."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from stratus.errors import PayloadTooLargeError
from stratus.sessions import SESSION_LIFETIME_S, SessionStore
from stratus.stores import Stores
from stratus.stores.layout import session_item_key, session_prefix

TENANT = "tenant-a"
TOKEN = "token-1"
BLOB = b"x" * 1000


def _pickled_bytes(value: Any) -> int:
    return len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def _session(stores: Stores, tenant: str = TENANT, token: str = TOKEN, **caps: int) -> SessionStore:
    return SessionStore(stores.objects, stores.clock, tenant, token, **caps)


def _has(session: SessionStore, key: str) -> bool:
    try:
        session.get(key)
    except KeyError:
        return False
    return True


@pytest.fixture
def session(stores: Stores) -> SessionStore:
    return _session(stores)


def test_session_key_quotes_tenant_token_and_key() -> None:
    assert session_item_key("a/b", "t", "c/d") == "sessions/a%2Fb/t/c%2Fd"


def test_session_prefix_ends_with_slash_so_tokens_do_not_share_it() -> None:
    assert session_prefix("a", "t") == "sessions/a/t/"


def test_put_then_get_round_trips(session: SessionStore) -> None:
    session.put("cache", {"embedding": [1, 2, 3]})

    assert session.get("cache") == {"embedding": [1, 2, 3]}


def test_put_replaces_existing_item(session: SessionStore) -> None:
    session.put("cache", 1)

    session.put("cache", 2)

    assert session.get("cache") == 2


def test_get_missing_item_raises_key_error(session: SessionStore) -> None:
    with pytest.raises(KeyError):
        session.get("absent")


def test_get_returns_item_just_before_its_lifetime_ends(session: SessionStore, clock) -> None:
    session.put("cache", 1)

    clock.advance(SESSION_LIFETIME_S - 1)

    assert session.get("cache") == 1


def test_get_expired_item_raises_key_error(session: SessionStore, clock) -> None:
    session.put("cache", 1)

    clock.advance(SESSION_LIFETIME_S)

    with pytest.raises(KeyError):
        session.get("cache")


def test_put_again_restarts_the_lifetime(session: SessionStore, clock) -> None:
    session.put("cache", 1)
    clock.advance(SESSION_LIFETIME_S - 1)

    session.put("cache", 2)
    clock.advance(SESSION_LIFETIME_S - 1)

    assert session.get("cache") == 2


def test_get_item_without_written_at_stamp_raises_key_error(stores: Stores, session: SessionStore) -> None:
    stores.objects.put_temporary(session_item_key(TENANT, TOKEN, "foreign"), pickle.dumps(1))

    with pytest.raises(KeyError):
        session.get("foreign")


def test_put_refuses_item_over_item_cap(stores: Stores) -> None:
    session = _session(stores, max_item_bytes=_pickled_bytes(BLOB) - 1)

    with pytest.raises(PayloadTooLargeError, match="session item 'big'"):
        session.put("big", BLOB)

    assert not _has(session, "big")


def test_put_evicts_oldest_items_beyond_item_count(stores: Stores, clock) -> None:
    session = _session(stores, max_items=2)
    for key in ("first", "second"):
        session.put(key, key)
        clock.advance(1)

    session.put("third", "third")

    assert [_has(session, key) for key in ("first", "second", "third")] == [False, True, True]


def test_put_evicts_oldest_items_beyond_session_bytes(stores: Stores, clock) -> None:
    session = _session(stores, max_bytes=2 * _pickled_bytes(BLOB))
    for key in ("second", "first"):  # written in this order, so key order is not write order
        session.put(key, BLOB)
        clock.advance(1)

    session.put("third", BLOB)

    assert [_has(session, key) for key in ("second", "first", "third")] == [False, True, True]


def test_put_never_evicts_the_item_being_written(stores: Stores, clock) -> None:
    session = _session(stores, max_bytes=_pickled_bytes(BLOB))
    session.put("old", 1)
    clock.advance(1)

    session.put("new", BLOB)

    assert [_has(session, key) for key in ("old", "new")] == [False, True]


def test_put_evicts_only_within_its_own_session(stores: Stores, clock) -> None:
    other = _session(stores, token="token-2")
    other.put("cache", 1)
    clock.advance(1)
    session = _session(stores, max_items=1)
    session.put("first", 1)

    session.put("second", 2)

    assert other.get("cache") == 1


def test_sessions_of_other_tenants_do_not_share_items(stores: Stores, session: SessionStore) -> None:
    session.put("cache", 1)

    with pytest.raises(KeyError):
        _session(stores, tenant="tenant-b").get("cache")


def test_sessions_with_the_same_token_share_items(stores: Stores, session: SessionStore) -> None:
    session.put("cache", 1)

    assert _session(stores).get("cache") == 1


def test_delete_removes_item(session: SessionStore) -> None:
    session.put("cache", 1)

    session.delete("cache")

    assert not _has(session, "cache")


def test_delete_missing_item_raises_key_error(session: SessionStore) -> None:
    with pytest.raises(KeyError):
        session.delete("absent")


def test_delete_expired_item_raises_key_error(session: SessionStore, clock) -> None:
    session.put("cache", 1)
    clock.advance(SESSION_LIFETIME_S)

    with pytest.raises(KeyError):
        session.delete("cache")
