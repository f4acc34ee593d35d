"""GET /api/events asked with a dashboard session: answered from one read of the log a second per key
(web/dashboard/recent_events_cache.py), byte for byte what the route answers a key; API-key callers
read the store every time. Through the Flask test client over a real EventService on SQLite."""

from __future__ import annotations

import pytest

from tests.keys_world import ADMIN_KEY, make_world
from wamulti.web.dashboard.cookie_sessions import CSRF_HEADER
from wamulti.web.dashboard.event_polls import SessionEventPolls
from wamulti.web.dashboard.recent_events_cache import MAX_AGE, RecentEventsCache
from wamulti.web.routes.event_routes import EVENT_POLLS_EXTENSION


class ManualClock:
    """A test double of the cache's monotonic clock: moves only when a test says."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(sqlite_store, make_registry):
    built = make_world(sqlite_store, make_registry)
    built.clock = ManualClock()
    built.app.extensions[EVENT_POLLS_EXTENSION] = SessionEventPolls(RecentEventsCache(clock=built.clock))
    return built


def session(world, key: str = ADMIN_KEY):
    client = world.app.test_client()
    resp = client.post("/dashboard/session", json={"key": key})
    assert resp.status_code == 200
    return client, resp.get_json()["csrfToken"]


def ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [event["id"] for event in resp.get_json()["events"]]


def publish(world, client_id: str, n: int) -> str:
    return world.events.publish(client_id, "message", {"text": f"hello {n}", "emoji": "\u00e9\u2713"}).id


def test_a_session_poll_answers_what_a_key_gets_byte_for_byte(world):
    first = publish(world, "alice", 0)
    rest = [publish(world, "bob", n) for n in range(1, 4)]
    page, _ = session(world)
    for query in (f"?after={first}&limit=1000", "?limit=1000", f"?after={first}&limit=2", "?clientId=bob&limit=1"):
        with_session = page.get(f"/api/events{query}")
        with_key = world.call("GET", f"/api/events{query}")
        assert with_session.get_data() == with_key.get_data(), query
        assert with_session.headers["Content-Type"] == with_key.headers["Content-Type"]
        assert with_session.headers["Cache-Control"] == "no-store"
    assert ids(page.get(f"/api/events?after={first}")) == rest


def test_polls_within_a_second_share_one_read_of_the_log_and_later_ones_read_again(world):
    e1, e2, e3 = (publish(world, "alice", n) for n in range(3))
    page, _ = session(world)
    other, _ = session(world)  # another open page of the same key
    assert ids(page.get(f"/api/events?after={e1}&limit=1000")) == [e2, e3]  # read from the store, kept
    e4 = publish(world, "bob", 4)
    # a cursor inside the kept tail is answered from it: e4 came after the read
    assert ids(other.get(f"/api/events?after={e2}&limit=1000")) == [e3]
    assert ids(other.get(f"/api/events?after={e3}&limit=1000")) == []
    paged = other.get(f"/api/events?after={e1}&limit=1").get_json()
    assert [e["id"] for e in paged["events"]] == [e2] and paged["next"] == e2
    assert ids(world.call("GET", f"/api/events?after={e2}&limit=1000")) == [e3, e4]  # a key: the store, now
    # a cursor the tail does not hold (older than its anchor) reads the store
    assert ids(other.get("/api/events?limit=1000")) == [e1, e2, e3, e4]
    world.clock.now += MAX_AGE
    assert ids(page.get(f"/api/events?after={e3}&limit=1000")) == [e4]


def test_each_key_and_filter_has_its_own_tail(world):
    a1 = publish(world, "alice", 1)
    b1 = publish(world, "bob", 2)
    admin, _ = session(world)
    assert ids(admin.get("/api/events?limit=1000")) == [a1, b1]
    scoped, _ = session(world, world.new_key("bob"))
    assert ids(scoped.get("/api/events?limit=1000")) == [b1]  # never the admin's tail
    assert ids(scoped.get("/api/events?clientId=alice&limit=1000")) == []  # another's client lists nothing
    assert ids(admin.get("/api/events?clientId=alice&limit=1000")) == [a1]


def test_a_change_through_the_api_makes_the_next_poll_read_the_log(world):
    e1 = publish(world, "alice", 1)
    page, token = session(world)
    assert ids(page.get(f"/api/events?after={e1}")) == []
    e2 = publish(world, "alice", 2)
    assert ids(page.get(f"/api/events?after={e1}")) == []  # the tail read a moment ago
    assert page.delete("/api/clients/carol", headers={CSRF_HEADER: token}).status_code == 200
    assert ids(page.get(f"/api/events?after={e1}")) == [e2]


def test_bad_queries_with_a_session_are_the_same_400(world):
    page, _ = session(world)
    for query in ("?limit=0", "?after=nope", "?type=nope"):
        with_session, with_key = page.get(f"/api/events{query}"), world.call("GET", f"/api/events{query}")
        assert with_session.status_code == 400 and with_session.get_json() == with_key.get_json(), query
