"""GET /api/clients in pages (?limit=&cursor=&state=) through the HTTP API over a real registry and
store: every client once across creates and deletes, the state filter, scoped keys, bad cursors, and
the answer without `limit` exactly as before."""

from __future__ import annotations

import base64

import pytest

from tests.keys_world import World
from tests.test_api import assert_error
from wamulti.clients.states import CLOSED
from wamulti.store.store_api import ClientRecord

STORED = [f"c{n:02d}" for n in range(30)]  # CLOSED, unpaired: registered by the restore, not started


@pytest.fixture
def world(sqlite_store, make_registry):
    for client_id in STORED:
        sqlite_store.create_client(ClientRecord(client_id, CLOSED))
    registry = make_registry(console=False, store=sqlite_store)
    registry.restore_all()
    return World(sqlite_store, registry)


def walk(world, query: str, key=None, between=lambda page: None) -> tuple[list[str], list[dict]]:
    """Every page of the list from the start: (the ids in the order listed, the pages' bodies)."""
    ids, pages, cursor = [], [], None
    while True:
        resp = world.call("GET", f"/api/clients?{query}" + (f"&cursor={cursor}" if cursor else ""),
                          **({"key": key} if key else {}))
        assert resp.status_code == 200, resp.get_data(as_text=True)
        page = resp.get_json()
        pages.append(page)
        ids += [c["clientId"] for c in page["clients"]]
        if page["next"] is None:
            return ids, pages
        cursor = page["next"]
        between(page)
        assert len(pages) < 100, "the walk does not end"


def test_without_limit_the_answer_is_the_array_of_every_client_as_before(world):
    resp = world.call("GET", "/api/clients")
    assert resp.status_code == 200
    body = resp.get_json()
    assert isinstance(body, list) and [c["clientId"] for c in body] == STORED
    assert body[0] == {"clientId": "c00", "state": "CLOSED", "pairingCode": None, "phone": None, "jid": None,
                       "lastError": None,
                       "updatedAt": body[0]["updatedAt"], "retryAt": None, "pairingExpiresAt": None,
                       "snapshotLagSeconds": 0.0, "lastSnapshotAt": None}


def test_pages_list_every_client_once_in_order_and_the_last_has_no_next(world):
    ids, pages = walk(world, "limit=7")
    assert ids == STORED
    assert [len(p["clients"]) for p in pages] == [7, 7, 7, 7, 2]
    assert pages[-1]["next"] is None
    whole = world.call("GET", "/api/clients").get_json()
    assert [c for p in pages for c in p["clients"]] == whole, "a page shows clients exactly as the array does"


def test_a_page_of_exactly_the_rest_says_no_next(world):
    assert world.call("GET", "/api/clients?limit=30").get_json()["next"] is None
    page = world.call("GET", "/api/clients?limit=29").get_json()
    assert page["next"] is not None
    assert [c["clientId"] for c in world.call("GET", f"/api/clients?cursor={page['next']}").get_json()["clients"]] \
        == ["c29"]


def test_the_order_of_ids_finds_a_cursor_whose_client_is_gone():
    from wamulti.clients.entries import ClientOrder
    order = ClientOrder()
    for client_id in ("b", "a", "c", "b"):
        order.add(client_id)
    assert order.after(None) == ["a", "b", "c"] and order.after("a") == ["b", "c"]
    assert order.after("bb") == ["c"], "a cursor whose client is gone still finds its place"
    order.remove("b")
    order.remove("zz")
    assert order.after(None) == ["a", "c"]


def test_the_walk_is_stable_across_creates_and_deletes(world):
    changed = []

    def change(page):
        if changed:
            return
        listed = page["clients"][-1]["clientId"]  # c09 after the first page of 10
        assert listed == "c09"
        for gone in ("c03", "c20"):  # one listed already, one still ahead
            assert world.call("DELETE", f"/api/clients/{gone}").status_code == 200
        for new in ("c05x", "c25x"):  # one sorted before the cursor, one after it
            resp = world.call("POST", "/api/clients", json={"clientId": new, "phone": "+4915112345678"})
            assert resp.status_code == 201, resp.get_data(as_text=True)
        changed.append(True)

    ids, _ = walk(world, "limit=10", between=change)
    assert len(ids) == len(set(ids)), "no client listed twice"
    assert "c20" not in ids and "c25x" in ids, "what changed ahead of the cursor shows as it is then"
    assert "c05x" not in ids, "a client created behind the cursor is not listed in this walk"
    stayed = [c for c in STORED if c != "c20"]
    assert [i for i in ids if i in STORED] == stayed, "every client there for the whole walk is listed once, in order"


def test_the_state_filter_pages_only_clients_in_that_state(world):
    for new in ("c11a", "c22a", "c29a"):  # started with a phone: CONNECTING on the fake backend
        assert world.call("POST", "/api/clients", json={"clientId": new, "phone": "+4915112345678"}).status_code == 201
    ids, pages = walk(world, "limit=2&state=CONNECTING")
    assert ids == ["c11a", "c22a", "c29a"] and [len(p["clients"]) for p in pages] == [2, 1]
    assert all(c["state"] == "CONNECTING" for p in pages for c in p["clients"])
    closed, _ = walk(world, "limit=50&state=CLOSED")
    assert closed == STORED
    array = world.call("GET", "/api/clients?state=CONNECTING").get_json()
    assert [c["clientId"] for c in array] == ["c11a", "c22a", "c29a"], "without limit: the array, filtered"
    assert walk(world, "limit=5&state=READY")[0] == []


def test_a_cursor_alone_pages_by_100(world):
    first = world.call("GET", "/api/clients?limit=1").get_json()
    page = world.call("GET", f"/api/clients?cursor={first['next']}").get_json()
    assert [c["clientId"] for c in page["clients"]] == STORED[1:] and page["next"] is None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("query, field", [
    ("cursor=garbage", "cursor"), ("cursor=c1.", "cursor"), ("cursor=c1.%21%21%21", "cursor"),
    (f"cursor=c1.{_b64('bad id!')}", "cursor"), (f"cursor=c2.{_b64('c01')}", "cursor"),
    (f"cursor=c1.{_b64('c01')}==", "cursor"), ("cursor=" + "c1." + "A" * 200, "cursor"),
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"), ("limit=-3", "limit"),
    ("state=NOPE", "state"), ("state=ready", "state"),
])
def test_bad_query_parameters_answer_400_naming_the_parameter(world, query, field):
    body = assert_error(world.call("GET", f"/api/clients?{query}"), 400, "invalid_request")
    assert f"'{field}'" in body["message"]


def test_a_scoped_key_pages_through_its_clients_only(world):
    mine = ["c02", "c07", "c08", "c19", "c28"]
    key = world.new_key(*mine)
    ids, pages = walk(world, "limit=2", key=key)
    assert ids == mine and [len(p["clients"]) for p in pages] == [2, 2, 1]
    admin_page = world.call("GET", "/api/clients?limit=10").get_json()  # ends with c09
    theirs = world.call("GET", f"/api/clients?limit=10&cursor={admin_page['next']}", key).get_json()
    assert [c["clientId"] for c in theirs["clients"]] == ["c19", "c28"], "any cursor: still only its clients"
    assert [c["clientId"] for c in world.call("GET", "/api/clients?state=CLOSED", key).get_json()] == mine


def test_the_document_describes_the_parameters_and_both_answers(world):
    doc = world.call("GET", "/openapi.json").get_json()
    operation = doc["paths"]["/api/clients"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"limit", "cursor", "state"} and all(p["in"] == "query" for p in params.values())
    assert "400" in operation["responses"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    listing = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    kinds = {option.get("type") or option["$ref"].rsplit("/", 1)[1] for option in listing["anyOf"]}
    assert kinds == {"array", "ClientPage"}
