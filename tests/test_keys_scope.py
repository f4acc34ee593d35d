"""What a scoped key reaches, through the HTTP API over a real registry, events service and store
(SQLite and MariaDB): its clients on the client-scoped routes, nothing of any other client (which
answers exactly as an unknown one), and 403 on the admin-only routes."""

from __future__ import annotations

import json

import pytest

from tests.keys_world import ADMIN_KEY, make_world
from tests.test_api import assert_error
from wamulti.web.auth import ADMIN_ONLY, CLIENT_SCOPED, route_policy
from wamulti.hearing.event_model import new_event_id

GHOST = "dan"  # no such client (as long as "bob": the answers are compared byte for byte)
# Every client-scoped route, with {c} for the client, {m} for one of its sends, {e} for one of its events.
ROUTES = [
    ("GET", "/api/clients/{c}", None),
    ("POST", "/api/clients/{c}/pair", {"phone": "+4915112345678"}),
    ("GET", "/api/clients/{c}/qr", None),
    ("POST", "/api/messages/send", {"clientId": "{c}", "to": "+4915112345678", "text": "hi"}),
    ("POST", "/api/messages/react", {"clientId": "{c}", "chat": "+4915112345678", "messageId": "3EB0AB", "emoji": "👍"}),
    ("POST", "/api/messages/edit", {"clientId": "{c}", "chat": "+4915112345678", "messageId": "3EB0AB", "text": "hi"}),
    ("POST", "/api/messages/revoke", {"clientId": "{c}", "chat": "+4915112345678", "messageId": "3EB0AB"}),
    ("POST", "/api/messages/read", {"clientId": "{c}", "chat": "+4915112345678", "messageIds": ["3EB0AB"]}),
    ("GET", "/api/messages/{m}", None),
    ("POST", "/api/events/{e}/redeliver", None),
    ("PUT", "/api/clients/{c}/webhook", {"url": "https://example.com/hooks"}),
    ("GET", "/api/clients/{c}/webhook", None),
    ("DELETE", "/api/clients/{c}/webhook", None),
    ("POST", "/api/clients/{c}/webhook/replay", {}),
    ("POST", "/api/clients/{c}/presence", {"state": "available"}),
    ("POST", "/api/clients/{c}/check", {"numbers": ["+4915112345678"]}),
    ("GET", "/api/clients/{c}/contacts", None),
    ("GET", "/api/clients/{c}/picture?jid=4915112345678@s.whatsapp.net", None),
    ("GET", "/api/clients/{c}/profile", None),
    ("GET", "/api/clients/{c}/groups", None),
    ("POST", "/api/clients/{c}/groups", {"subject": "Team", "participants": ["+4915112345678"]}),
    ("POST", "/api/clients/{c}/groups/join", {"link": "AbCdEfGhIjKlMnOpQrStUv"}),
    ("GET", "/api/clients/{c}/groups/120363012345678901@g.us", None),
    ("PATCH", "/api/clients/{c}/groups/120363012345678901@g.us", {"subject": "Team"}),
    ("POST", "/api/clients/{c}/groups/120363012345678901@g.us/participants",
     {"action": "add", "participants": ["+4915112345678"]}),
    ("GET", "/api/clients/{c}/groups/120363012345678901@g.us/invite", None),
    ("DELETE", "/api/clients/{c}/groups/120363012345678901@g.us/invite", None),
    ("POST", "/api/clients/{c}/groups/120363012345678901@g.us/leave", None),
]
LISTS = [("GET", "/api/clients"), ("GET", "/api/events"),  # client-scoped too: tested below by what they list
         ("GET", "/api/dashboard")]
# client-scoped through the client of what they name (a media file), not a client in the path: each
# is proven in its own file with a scoped key (another client's is 404 as unknown)
SCOPED_ELSEWHERE = {"media_retry.retry": "tests/test_media_retry_api.py"}
ADMIN_ROUTES = [("POST", "/api/clients", {"clientId": "dave", "phone": "+4915112345678"}),
                ("DELETE", "/api/clients/alice", None), ("POST", "/api/keys", {"clients": ["alice"]}),
                ("GET", "/api/keys", None), ("DELETE", "/api/keys/{k}", None), ("GET", "/metrics", None),
                ("GET", "/api/instances", None)]


@pytest.fixture
def world(store, make_registry):
    """Alice's and carol's sends, events and webhooks (bob has the same); a key for alice only."""
    world = make_world(store, make_registry)
    world.ids = {GHOST: {"m": f"MSG{GHOST}", "e": new_event_id()}}
    for client_id in ("alice", "bob", "carol"):
        world.queue_send(client_id, f"MSG{client_id}")
        event = world.events.publish(client_id, "message", {"text": f"to {client_id}"})
        world.events.set_webhook(client_id, "https://example.com/hooks", None, None)
        world.ids[client_id] = {"m": f"MSG{client_id}", "e": event.id}
    world.alice_key = world.new_key("alice", label="alice's shop")
    return world


def request_for(world, route, client_id):
    """(method, path, json) of a route for one client."""
    method, template, body = route
    ids = world.ids[client_id]
    path = template.format(c=client_id, m=ids["m"], e=ids["e"])
    filled = None if body is None else {k: (client_id if v == "{c}" else v) for k, v in body.items()}
    return method, path, filled


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_another_client_answers_exactly_as_an_unknown_one(world, route):
    method, path, body = request_for(world, route, "bob")
    hidden = world.call(method, path, world.alice_key, json=body)
    method, path, body = request_for(world, route, GHOST)
    unknown_to_key = world.call(method, path, world.alice_key, json=body)
    unknown_to_admin = world.call(method, path, ADMIN_KEY, json=body)
    assert_error(hidden, 404, "not_found")
    assert hidden.status_code == unknown_to_key.status_code == unknown_to_admin.status_code
    assert unknown_to_key.get_json() == unknown_to_admin.get_json()  # the registry's own answer
    text = unknown_to_key.get_data(as_text=True)
    for name, value in world.ids[GHOST].items():
        text = text.replace(value, world.ids["bob"][name])
    assert hidden.get_json() == json.loads(text.replace(GHOST, "bob"))
    assert dict(hidden.headers) == dict(unknown_to_key.headers)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_its_own_client_answers_as_it_does_for_the_admin(world, route):
    method, path, body = request_for(world, route, "alice")
    scoped = world.call(method, path, world.alice_key, json=body)
    method, path, body = request_for(world, route, "carol")  # in the same state as alice
    admin = world.call(method, path, ADMIN_KEY, json=body)
    assert scoped.status_code == admin.status_code, scoped.get_data(as_text=True)
    assert scoped.status_code not in (401, 403)
    if scoped.status_code == 404:  # e.g. no QR code pending: the client itself was reached
        assert not scoped.get_json()["message"].startswith("No client with id")
    if method == "GET" and scoped.is_json and scoped.status_code == 200:
        assert "carol" not in scoped.get_data(as_text=True)


def test_the_client_list_shows_only_its_clients(world):
    key = world.new_key("carol", "alice")
    assert [c["clientId"] for c in world.call("GET", "/api/clients", key).get_json()] == ["alice", "carol"]
    assert [c["clientId"] for c in world.call("GET", "/api/clients").get_json()] == ["alice", "bob", "carol"]


def test_the_dashboard_overview_shows_only_its_clients(world):
    key = world.new_key("carol", "alice")
    overview = world.call("GET", "/api/dashboard", key).get_json()
    assert [c["clientId"] for c in overview["clients"]] == ["alice", "carol"]
    assert overview["health"]["residentMemoryBytes"] is None  # process-wide figures: the admin's only
    everyone = world.call("GET", "/api/dashboard").get_json()
    assert [c["clientId"] for c in everyone["clients"]] == ["alice", "bob", "carol"]


def test_the_event_list_shows_only_its_clients_events(world):
    key = world.new_key("carol", "alice")

    def clients_of(query, with_key=key):
        resp = world.call("GET", f"/api/events{query}", with_key)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [e["clientId"] for e in resp.get_json()["events"]], resp.get_json()["next"]

    assert sorted(clients_of("")[0]) == ["alice", "carol"]
    assert clients_of("?clientId=alice") == (["alice"], None)
    assert clients_of("?clientId=bob") == ([], None) == clients_of(f"?clientId={GHOST}")  # as an unknown id
    assert clients_of("?clientId=bob", ADMIN_KEY) == (["bob"], None)
    first, cursor = clients_of("?limit=1")
    assert len(first) == 1 and cursor
    second, cursor = clients_of(f"?limit=1&after={cursor}")
    assert sorted(first + second) == ["alice", "carol"] and clients_of(f"?after={world.ids['carol']['e']}")[0] == []


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, _ in ADMIN_ROUTES])
def test_admin_only_routes_refuse_a_scoped_key_and_change_nothing(world, route):
    def state():  # the clients and the keys (less lastUsedAt: the refused request did use the key)
        listed = world.call("GET", "/api/keys").get_json()
        keys = [{k: v for k, v in key.items() if k != "lastUsedAt"} for key in listed]
        return world.call("GET", "/api/clients").get_json(), keys

    method, path, body = route
    before = state()
    resp = world.call(method, path.format(k=before[1][0]["id"]), world.alice_key, json=body)
    assert_error(resp, 403, "forbidden")
    assert state() == before


def test_a_scoped_key_on_a_path_without_a_route_gets_404_not_403(world):
    assert_error(world.call("GET", "/api/nothing-here", world.alice_key), 404, "not_found")
    assert_error(world.call("PATCH", "/api/clients/alice", world.alice_key), 405, "method_not_allowed")


def test_open_routes_need_no_key(world):
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert world.call("GET", path, None).status_code == 200
        assert world.call("GET", path, world.alice_key).status_code == 200


def test_every_route_behind_a_key_declares_its_policy(world):
    """A new route under /api/ (or /metrics) without @admin_only or @client_scoped fails here."""
    app = world.app
    declared = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.rule == "/metrics":
            declared[rule.endpoint] = route_policy(app.view_functions[rule.endpoint])
            assert declared[rule.endpoint] in (ADMIN_ONLY, CLIENT_SCOPED), f"{rule.rule} declares no key policy"
    adapter = app.url_map.bind("localhost")
    tested = {adapter.match(request_for(world, route, "alice")[1].split("?")[0], method=route[0])[0] for route in ROUTES}
    tested |= {adapter.match(path, method=method)[0] for method, path in LISTS}
    tested |= set(SCOPED_ELSEWHERE)
    assert tested == {endpoint for endpoint, policy in declared.items() if policy == CLIENT_SCOPED}
    refused = {adapter.match(path.format(k="key_0"), method=method)[0] for method, path, _ in ADMIN_ROUTES}
    assert refused == {endpoint for endpoint, policy in declared.items() if policy == ADMIN_ONLY}


@pytest.mark.parametrize("method, path, body", [("GET", "/api/clients/alice/profile", None),
                                                ("POST", "/api/clients/alice/presence", {"state": "available"}),
                                                ("POST", "/api/clients/alice/check", {"numbers": ["+4915112345678"]})])
def test_lookups_need_the_client_ready(world, method, path, body):
    """The world's clients never connect: its own key reaches them, and they answer 503 client_not_ready."""
    resp = world.call(method, path, world.alice_key, json=body)
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.get_json()["error"] == "client_not_ready" and resp.get_json()["currentState"] != "READY"
