"""Scoped API keys in both stores (SQLite and a real MariaDB): rows, scopes, hashes, the throttled touch."""

from __future__ import annotations

from datetime import datetime, timedelta

from wamulti.store.store_api import ClientRecord
from wamulti.store.key_rows import ApiKeyRow

T0 = datetime(2026, 12, 7, 4, 0, 0, 123456)
HASH_A, HASH_B = "a" * 64, "b" * 64


def _clients(store, *ids):
    for client_id in ids:
        store.create_client(ClientRecord(client_id, "READY"))


def test_a_key_is_stored_with_its_clients_and_found_by_its_hash(store):
    _clients(store, "alice", "bob")
    assert store.add_api_key(ApiKeyRow("key_1", HASH_A, "shop", ("bob", "alice"), T0)) == []
    found = store.api_key_by_hash(HASH_A)
    assert found == ApiKeyRow("key_1", HASH_A, "shop", ("alice", "bob"), T0, None)
    assert store.api_key_by_hash(HASH_B) is None


def test_a_key_naming_a_missing_client_stores_nothing(store):
    _clients(store, "alice")
    assert store.add_api_key(ApiKeyRow("key_1", HASH_A, None, ("alice", "ghost", "nobody"), T0)) == ["ghost", "nobody"]
    assert store.api_key_by_hash(HASH_A) is None and store.list_api_keys() == []


def test_list_is_oldest_first_and_delete_takes_the_scope_with_it(store):
    _clients(store, "alice", "bob")
    store.add_api_key(ApiKeyRow("key_2", HASH_B, None, ("bob",), T0 + timedelta(seconds=1)))
    store.add_api_key(ApiKeyRow("key_1", HASH_A, "first", ("alice", "bob"), T0))
    assert [(k.key_id, k.clients) for k in store.list_api_keys()] == [("key_1", ("alice", "bob")), ("key_2", ("bob",))]
    assert store.delete_api_key("key_1") is True and store.delete_api_key("key_1") is False
    assert [k.key_id for k in store.list_api_keys()] == ["key_2"]
    assert store.api_key_by_hash(HASH_A) is None


def test_a_deleted_client_drops_out_of_every_key(store):
    _clients(store, "alice", "bob")
    store.add_api_key(ApiKeyRow("key_1", HASH_A, None, ("alice", "bob"), T0))
    assert store.delete_client("alice")
    assert store.api_key_by_hash(HASH_A).clients == ("bob",)
    _clients(store, "alice")  # a new client of the same id is not reached by the old key
    assert store.api_key_by_hash(HASH_A).clients == ("bob",)
    assert store.delete_client("bob")
    assert store.api_key_by_hash(HASH_A).clients == ()  # the key stays, reaching nothing


def test_touch_writes_only_when_the_stored_time_is_older(store):
    _clients(store, "alice")
    store.add_api_key(ApiKeyRow("key_1", HASH_A, None, ("alice",), T0))
    assert store.touch_api_key("key_1", T0 + timedelta(seconds=5), T0 - timedelta(seconds=55)) is True
    assert store.api_key_by_hash(HASH_A).last_used_at == T0 + timedelta(seconds=5)
    # another instance saw the same old time: its write finds the new one and leaves it
    assert store.touch_api_key("key_1", T0 + timedelta(seconds=6), T0 - timedelta(seconds=54)) is False
    assert store.touch_api_key("key_1", T0 + timedelta(seconds=70), T0 + timedelta(seconds=10)) is True
    assert store.api_key_by_hash(HASH_A).last_used_at == T0 + timedelta(seconds=70)
    assert store.touch_api_key("key_gone", T0, T0) is False
