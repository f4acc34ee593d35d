"""The key routes through the HTTP API over a real store (SQLite and MariaDB): made, shown once, kept
as a hash, listed, revoked (also through another instance on the same database), bad input, Bearer,
lastUsedAt's throttle, and a scoped key while the store is down."""

from __future__ import annotations

import hashlib
import sqlite3

import pymysql
import pytest

from tests.keys_world import ADMIN_KEY, SteppedClock, World, make_world
from tests.server_process import ServerProcess
from tests.test_api import assert_error
from wamulti.config import Settings
from wamulti.store import open_store
from wamulti.store.sqlite_store import FILE_NAME
from wamulti.store.client_rows import utcnow


@pytest.fixture
def world(store, make_registry):
    return make_world(store, make_registry)


def test_a_key_is_made_shown_once_listed_and_revoked(world):
    resp = world.call("POST", "/api/keys", json={"clients": ["bob", "alice"], "label": "shop"})
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    made = resp.get_json()
    assert made["key"].startswith("wam_") and len(made["key"]) == 47
    assert made["id"].startswith("key_") and made["label"] == "shop" and made["lastUsedAt"] is None
    assert made["clients"] == ["bob", "alice"]
    listed = world.call("GET", "/api/keys")
    assert listed.status_code == 200
    assert listed.get_json() == [{"id": made["id"], "label": "shop", "clients": ["alice", "bob"],
                                  "createdAt": made["createdAt"], "lastUsedAt": None}]
    text = listed.get_data(as_text=True)
    assert made["key"] not in text and hashlib.sha256(made["key"].encode()).hexdigest() not in text
    assert world.call("DELETE", f"/api/keys/{made['id']}").get_json() == {"id": made["id"], "deleted": True}
    assert world.call("GET", "/api/keys").get_json() == []
    assert_error(world.call("DELETE", f"/api/keys/{made['id']}"), 404, "not_found")
    assert_error(world.call("DELETE", "/api/keys/not-a-key-id"), 404, "not_found")


def _stored_values(settings) -> list[str]:
    """Every value of the key tables, read with the database's own driver."""
    queries = ("SELECT * FROM api_keys", "SELECT * FROM api_key_clients")
    if not settings.db_host:
        with sqlite3.connect(settings.data_dir / FILE_NAME) as con:
            return [str(v) for q in queries for row in con.execute(q).fetchall() for v in row]
    con = pymysql.connect(host=settings.db_host, port=settings.db_port, user=settings.db_user,
                          password=settings.db_password, database=settings.db_name)
    try:
        values = []
        with con.cursor() as cur:
            for query in queries:
                cur.execute(query)
                values += [str(v) for row in cur.fetchall() for v in row]
        return values
    finally:
        con.close()


@pytest.mark.parametrize("kind", ["sqlite", "mysql"])
def test_the_store_keeps_the_keys_sha256_not_the_key(kind, request, tmp_path, make_registry):
    if kind == "mysql":
        mariadb = request.getfixturevalue("mariadb")
        settings = mariadb.settings(mariadb.new_database())
    else:
        settings = Settings(api_key=ADMIN_KEY, data_dir=tmp_path / "keys")
    store = open_store(settings)
    try:
        key = make_world(store, make_registry).new_key("alice", label="shop")
        stored = _stored_values(settings)
        assert hashlib.sha256(key.encode()).hexdigest() in stored and "alice" in stored
        assert not any(key[len("wam_"):] in value for value in stored)
    finally:
        store.close()


@pytest.mark.parametrize("body, field", [
    ({}, "clients"), ({"clients": None}, "clients"), ({"clients": []}, "clients"), ({"clients": "alice"}, "clients"),
    ({"clients": [1]}, "clients"), ({"clients": [""]}, "clients"), ({"clients": ["bad id"]}, "clients"),
    ({"clients": ["-alice"]}, "clients"), ({"clients": ["x" * 65]}, "clients"),
    ({"clients": ["alice", "alice"]}, "clients"), ({"clients": [f"c{i}" for i in range(101)]}, "clients"),
    ({"clients": ["alice"], "label": ""}, "label"), ({"clients": ["alice"], "label": 5}, "label"),
    ({"clients": ["alice"], "label": "x" * 101}, "label"), ({"clients": ["alice"], "label": "a\nb"}, "label"),
    ({"clients": {"alice": True}}, "clients"),
])
def test_bad_input_answers_400_naming_the_field_and_makes_no_key(world, body, field):
    body_ = assert_error(world.call("POST", "/api/keys", json=body), 400, "invalid_request")
    assert f"'{field}'" in body_["message"]
    assert world.call("GET", "/api/keys").get_json() == []


def test_a_body_that_is_not_a_json_object_answers_400_and_makes_no_key(world):
    assert_error(world.call("POST", "/api/keys", data="[1]", content_type="application/json"), 400, "invalid_request")
    assert_error(world.call("POST", "/api/keys", data="{", content_type="application/json"), 400, "invalid_request")
    assert world.call("GET", "/api/keys").get_json() == []


def test_a_key_may_name_only_existing_clients(world):
    body = assert_error(world.call("POST", "/api/keys", json={"clients": ["alice", "dan", "eve"]}), 404, "not_found")
    assert body["message"] == "No client with id 'dan'."
    assert world.call("GET", "/api/keys").get_json() == []


def test_a_revoked_key_is_refused_on_the_very_next_request(world):
    key = world.new_key("alice")
    assert world.call("GET", "/api/clients/alice", key).status_code == 200
    key_id = world.call("GET", "/api/keys").get_json()[0]["id"]
    assert world.call("DELETE", f"/api/keys/{key_id}").status_code == 200
    assert_error(world.call("GET", "/api/clients/alice", key), 401, "unauthorized")


def test_revoking_through_another_instance_takes_effect_on_the_next_request(mariadb, make_registry):
    settings = mariadb.settings(mariadb.new_database())
    first_store, second_store = open_store(settings), open_store(settings)  # two pools: as two processes
    try:
        first = make_world(first_store, make_registry)
        second_registry = make_registry(console=False, store=second_store)
        second_registry.restore_all()
        second = World(second_store, second_registry)
        key = first.new_key("alice")
        assert second.call("GET", "/api/clients/alice", key).status_code == 200
        key_id = second.call("GET", "/api/keys").get_json()[0]["id"]
        assert first.call("DELETE", f"/api/keys/{key_id}").status_code == 200
        assert_error(second.call("GET", "/api/clients/alice", key), 401, "unauthorized")
    finally:
        first_store.close()
        second_store.close()


def test_both_headers_carry_either_key(world):
    key = world.new_key("alice")
    for who in (key, ADMIN_KEY):
        assert world.call("GET", "/api/clients/alice", who).status_code == 200
        assert world.call("GET", "/api/clients/alice", who, bearer=True).status_code == 200
    assert_error(world.call("GET", "/api/clients/alice", key + "x", bearer=True), 401, "unauthorized")
    assert_error(world.call("GET", "/api/clients/alice", key[:-1]), 401, "unauthorized")
    assert_error(world.call("GET", "/api/keys", key, bearer=True), 403, "forbidden")
    assert world.call("GET", "/metrics", ADMIN_KEY, bearer=True).status_code == 200


def test_last_used_at_is_written_at_most_once_a_minute(store, make_registry):
    clock = SteppedClock(utcnow().replace(microsecond=0))
    world = make_world(store, make_registry, clock)
    key = world.new_key("alice")

    def last_used():
        return world.call("GET", "/api/keys").get_json()[0]["lastUsedAt"]

    assert last_used() is None
    world.call("GET", "/api/clients/alice", key)
    first = last_used()
    assert first == clock.now.isoformat(timespec="milliseconds") + "Z"
    commits = getattr(store, "commits", None)  # SQLite counts its write transactions
    for _ in range(5):
        clock.advance(10)
        assert world.call("GET", "/api/clients/alice", key).status_code == 200
    assert last_used() == first
    if commits is not None:
        assert store.commits == commits  # five uses within the minute wrote nothing
    clock.advance(15)  # 65 s after the first use
    world.call("GET", "/api/clients/alice", key)
    assert last_used() == clock.now.isoformat(timespec="milliseconds") + "Z"


def test_while_the_store_is_down_a_scoped_key_gets_503_and_the_admin_key_works(sqlite_store, make_registry):
    world = make_world(sqlite_store, make_registry)
    key = world.new_key("alice")
    sqlite_store.close()  # every store call now raises StoreUnavailable
    resp = world.call("GET", "/api/clients/alice", key)
    assert_error(resp, 503, "store_unavailable")
    assert resp.headers["Retry-After"]
    assert world.call("GET", "/api/clients/alice").status_code == 200
    assert_error(world.call("GET", "/api/clients/alice", "wam_" + "x" * 43), 503, "store_unavailable")
    assert_error(world.call("GET", "/api/clients/alice", "not-a-scoped-key"), 401, "unauthorized")


def test_a_deleted_client_drops_out_of_its_keys(world):
    key = world.new_key("alice", "bob")
    assert world.call("DELETE", "/api/clients/bob").status_code == 200
    assert world.call("GET", "/api/keys").get_json()[0]["clients"] == ["alice"]
    assert_error(world.call("GET", "/api/clients/bob", key), 404, "not_found")
    assert world.call("POST", "/api/clients", json={"clientId": "bob", "phone": "+4915112345678"}).status_code == 201
    assert_error(world.call("GET", "/api/clients/bob", key), 404, "not_found")  # a new bob is not the old one's
    assert world.call("GET", "/api/clients/alice", key).status_code == 200


def test_the_real_server_takes_revokes_and_never_logs_a_key(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    try:
        assert server.request("POST", "/api/clients", {"clientId": "alice", "phone": "+4915123456789"}).status == 201
        made = server.request("POST", "/api/keys", {"clients": ["alice"]})
        assert made.status == 201, made
        key, key_id = made.json["key"], made.json["id"]
        bearer = {"Authorization": f"Bearer {key}"}
        assert server.request("GET", "/api/clients/alice", key=None, headers=bearer).status == 200
        assert server.request("GET", "/metrics", key=key).status == 403
        assert server.request("DELETE", f"/api/keys/{key_id}").status == 200
        assert server.request("GET", "/api/clients/alice", key=None, headers=bearer).status == 401
        log = server.log()
        assert key_id in log  # made and revoked are logged by the key's id ...
        assert key not in log and key[len("wam_"):] not in log  # ... never by the key or its hash
        assert hashlib.sha256(key.encode()).hexdigest() not in log
    finally:
        server.close()
