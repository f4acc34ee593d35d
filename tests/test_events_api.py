"""The events and webhook routes through Flask's test client, on a real EventService over SQLite."""

from __future__ import annotations

import pytest

from tests.fake_registry import FakeRegistry
from tests.test_api import KEY, assert_error
from wamulti.web.app import create_app
from wamulti.config import Settings
from wamulti.destinations.policy import DestinationPolicy, allowed_networks
from wamulti.hearing.webhook_directory import WebhookConfig
from wamulti.hearing.event_fields import check_secret, new_secret
from wamulti.hearing.event_model import EventType
from wamulti.hearing.event_service import EventService
from wamulti.store.store_api import ClientRecord
from wamulti.store.event_rows import AttemptResult

GLOBAL = WebhookConfig("http://127.0.0.1:9/global", new_secret(), frozenset({EventType.MESSAGE}))


@pytest.fixture
def registry():
    fake = FakeRegistry()
    fake.add("a")
    fake.add("b")
    return fake


@pytest.fixture
def service(sqlite_store):
    """A real service whose threads are not started: routes and stored state only."""
    for client_id in ("a", "b"):
        sqlite_store.create_client(ClientRecord(client_id, "READY"))
    return EventService(sqlite_store, destinations=DestinationPolicy(allowed_networks("127.0.0.0/8")))


@pytest.fixture
def api(registry, service):
    client = create_app(Settings(api_key=KEY), registry, service).test_client()

    def call(method, path, **kwargs):
        return client.open(path, method=method, headers={"x-api-key": KEY}, **kwargs)

    return call


def with_global_webhook(service):
    service.directory.global_hook = GLOBAL


# ---- auth and absence ----------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", [("GET", "/api/events"), ("POST", "/api/events/x/redeliver"),
                                          ("PUT", "/api/clients/a/webhook"), ("GET", "/api/clients/a/webhook"),
                                          ("DELETE", "/api/clients/a/webhook"),
                                          ("POST", "/api/clients/a/webhook/replay")])
def test_every_events_route_needs_the_key(registry, service, method, path):
    client = create_app(Settings(api_key=KEY), registry, service).test_client()
    assert_error(client.open(path, method=method, json={}), 401, "unauthorized")


def test_without_an_events_service_the_routes_do_not_exist(registry):
    client = create_app(Settings(api_key=KEY), registry).test_client()
    assert_error(client.get("/api/events", headers={"x-api-key": KEY}), 404, "not_found")


# ---- GET /api/events -----------------------------------------------------------------------------
def test_events_are_listed_oldest_first_with_their_delivery_state(api, service):
    with_global_webhook(service)
    message = service.publish("a", "message", {"text": "hi"})
    state = service.publish("b", "client.state", {"state": "READY"})
    resp = api("GET", "/api/events")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["next"] is None
    first, second = body["events"]
    assert first == {**message.to_json(), "delivery": "pending", "attempts": 0, "lastStatus": None,
                     "lastError": None, "nextAttemptAt": first["nextAttemptAt"]}
    assert first["nextAttemptAt"].endswith("Z")
    assert (second["id"], second["delivery"], second["nextAttemptAt"]) == (state.id, "none", None)


def test_events_are_filtered_and_paged_with_the_cursor(api, service):
    ids = [service.publish("ab"[n % 2], "message" if n % 3 else "message.ack", {"n": n}).id for n in range(9)]
    page = api("GET", "/api/events?clientId=a&limit=2").get_json()
    assert [e["id"] for e in page["events"]] == ids[0:4:2] and page["next"] == ids[2]
    page = api("GET", f"/api/events?clientId=a&limit=2&after={page['next']}").get_json()
    assert [e["id"] for e in page["events"]] == ids[4:8:2] and page["next"] == ids[6]
    page = api("GET", f"/api/events?clientId=a&limit=2&after={page['next']}").get_json()
    assert [e["id"] for e in page["events"]] == [ids[8]] and page["next"] is None
    acks = api("GET", "/api/events?type=message.ack").get_json()["events"]
    assert [e["id"] for e in acks] == ids[0::3]
    assert api("GET", f"/api/events?after={ids[8].lower()}").get_json()["events"] == [], "the cursor is case-blind"


@pytest.mark.parametrize("query, field", [("limit=0", "'limit'"), ("limit=1001", "'limit'"), ("limit=ten", "'limit'"),
                                          ("limit=-1", "'limit'"), ("type=message.read", "'type'"),
                                          ("after=123", "'after'"), ("clientId=", "'clientId'"),
                                          ("clientId=a%20b", "'clientId'")])
def test_bad_query_parameters_are_400_naming_the_field(api, query, field):
    body = assert_error(api("GET", f"/api/events?{query}"), 400, "invalid_request")
    assert field in body["message"]


# ---- redeliver -----------------------------------------------------------------------------------
def test_redeliver_queues_a_delivered_or_failed_event_again(api, service, sqlite_store):
    with_global_webhook(service)
    event = service.publish("a", "message", {})
    sqlite_store.claim_events("a", "t", 30)
    sqlite_store.record_attempts("a", "t", [AttemptResult(event.id, "failed", last_status=410)], 30)
    resp = api("POST", f"/api/events/{event.id}/redeliver")
    assert resp.status_code == 200
    assert (resp.get_json()["id"], resp.get_json()["delivery"], resp.get_json()["attempts"]) == (event.id, "pending", 0)


def test_redeliver_of_an_unknown_event_is_404_and_without_a_webhook_409(api, service):
    assert_error(api("POST", "/api/events/evt_01JD7Q5R2W8X3M9K4T6V0B1N2C/redeliver"), 404, "not_found")
    assert_error(api("POST", "/api/events/not-an-id/redeliver"), 404, "not_found")
    event = service.publish("a", "client.state", {})
    assert_error(api("POST", f"/api/events/{event.id}/redeliver"), 409, "conflict")


# ---- a client's webhook ---------------------------------------------------------------------------
def test_a_webhook_without_a_secret_gets_one_shown_only_in_the_put_answer(api):
    resp = api("PUT", "/api/clients/a/webhook", json={"url": "https://example.com/in", "events": ["message"]})
    assert resp.status_code == 200
    put = resp.get_json()
    assert check_secret(put["secret"]) == put["secret"]
    assert (put["clientId"], put["url"], put["events"]) == ("a", "https://example.com/in", ["message"])
    got = api("GET", "/api/clients/a/webhook").get_json()
    assert got["secret"] == "whsec_****" + put["secret"][-4:] and put["secret"] not in str(got)
    assert {k: v for k, v in got.items() if k != "secret"} == {k: v for k, v in put.items() if k != "secret"}


def test_a_given_secret_is_kept_and_masked_and_events_default_to_all(api, service):
    secret = new_secret()
    put = api("PUT", "/api/clients/b/webhook", json={"url": "http://127.0.0.1:5000/", "secret": secret}).get_json()
    assert put["secret"] != secret and put["events"] == ["*"]
    assert service.directory.for_client("b").secret == secret


def test_deleting_a_webhook_brings_the_global_one_back(api, service):
    with_global_webhook(service)
    api("PUT", "/api/clients/a/webhook", json={"url": "https://example.com/own"})
    assert service.directory.for_client("a").url == "https://example.com/own"
    assert api("DELETE", "/api/clients/a/webhook").get_json() == {"clientId": "a", "deleted": True}
    assert service.directory.for_client("a") == GLOBAL
    assert_error(api("GET", "/api/clients/a/webhook"), 404, "not_found")
    assert_error(api("DELETE", "/api/clients/a/webhook"), 404, "not_found")


@pytest.mark.parametrize("body, field", [({}, "'url'"), ({"url": "ftp://x/"}, "'url'"), ({"url": "https://"}, "'url'"),
                                         ({"url": "https://x/", "events": []}, "'events'"),
                                         ({"url": "https://x/", "events": ["nope"]}, "'events'"),
                                         ({"url": "https://x/", "events": "message"}, "'events'"),
                                         ({"url": "https://x/", "secret": "hunter2"}, "'secret'")])
def test_a_bad_webhook_is_400_naming_the_field(api, body, field):
    assert field in assert_error(api("PUT", "/api/clients/a/webhook", json=body), 400, "invalid_request")["message"]


@pytest.mark.parametrize("method, path", [("PUT", "/api/clients/ghost/webhook"), ("GET", "/api/clients/ghost/webhook"),
                                          ("DELETE", "/api/clients/ghost/webhook"),
                                          ("POST", "/api/clients/ghost/webhook/replay")])
def test_webhook_routes_of_an_unknown_client_are_404(api, method, path):
    assert_error(api(method, path, json={"url": "https://example.com/"}), 404, "not_found")


# ---- replay --------------------------------------------------------------------------------------
def test_replay_queues_the_clients_later_subscribed_events_in_order(api, service):
    api("PUT", "/api/clients/a/webhook", json={"url": "https://example.com/", "events": ["message"]})
    ids = [service.publish("a", t, {}).id for t in ("message", "message", "client.state", "message")]
    service.publish("b", "message", {})
    resp = api("POST", "/api/clients/a/webhook/replay", json={"after": ids[0]})
    assert resp.get_json() == {"clientId": "a", "queued": 2}
    states = {e["id"]: e["delivery"] for e in api("GET", "/api/events?clientId=a").get_json()["events"]}
    assert [states[i] for i in ids] == ["pending", "pending", "none", "pending"]
    assert api("POST", "/api/clients/a/webhook/replay").get_json()["queued"] == 3


def test_replay_needs_a_webhook_and_a_valid_cursor(api):
    assert_error(api("POST", "/api/clients/a/webhook/replay", json={}), 409, "conflict")
    body = assert_error(api("POST", "/api/clients/a/webhook/replay", json={"after": "yesterday"}), 400,
                        "invalid_request")
    assert "'after'" in body["message"]
