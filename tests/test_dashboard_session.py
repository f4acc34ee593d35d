"""The dashboard's session and its JSON route through the Flask test client, over a real registry,
event service and ApiKeys (tests/keys_world.py): a key is exchanged for an HttpOnly, SameSite=Strict
cookie; a change made with the cookie needs the session's CSRF token; the session sees exactly what
its key sees; sign-out, revocation and expiry end it; GET /api/dashboard answers 304 while unchanged."""

from __future__ import annotations

import pytest

from tests.fake_registry import FakeRegistry
from tests.keys_world import ADMIN_KEY, make_world
from wamulti.config import Settings
from wamulti.web.app import create_app
from wamulti.web.dashboard.cookie_sessions import COOKIE, CSRF_HEADER
from wamulti.web.dashboard.page_routes import CONTENT_SECURITY_POLICY
from wamulti.web.dashboard.session_book import SessionBook
from wamulti.web.routes.metrics_routes import METRICS_EXTENSION

ORIGIN = "http://localhost"  # the test client's host


@pytest.fixture
def world(sqlite_store, make_registry):
    return make_world(sqlite_store, make_registry)


def sign_in(world, key: str, **headers):
    client = world.app.test_client()
    resp = client.post("/dashboard/session", json={"key": key}, headers=headers)
    return client, resp


def cookie_header(resp) -> str:
    return next(v for k, v in resp.headers.items() if k == "Set-Cookie" and v.startswith(COOKIE + "="))


def test_sign_in_sets_a_strict_http_only_cookie_and_keeps_no_key(world):
    client, resp = sign_in(world, ADMIN_KEY)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    assert body["signedIn"] is True and body["role"] == "admin" and len(body["csrfToken"]) >= 40
    cookie = cookie_header(resp)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it (test below)
    assert ADMIN_KEY not in resp.get_data(as_text=True) and ADMIN_KEY not in cookie
    again = client.get("/dashboard/session").get_json()
    assert again["signedIn"] is True and again["csrfToken"] == body["csrfToken"]


def test_signing_in_again_ends_the_old_session(world):
    client, first = sign_in(world, ADMIN_KEY)
    old_id = cookie_header(first).split(";")[0].split("=", 1)[1]
    second = client.post("/dashboard/session", json={"key": ADMIN_KEY})
    assert second.status_code == 200 and cookie_header(second).split(";")[0].split("=", 1)[1] != old_id
    other = world.app.test_client()
    other.set_cookie(COOKIE, old_id)
    assert other.get("/api/clients").status_code == 401


def test_the_cookie_is_secure_over_https(world):
    client = world.app.test_client()
    resp = client.post("/dashboard/session", json={"key": ADMIN_KEY}, base_url="https://localhost")
    assert "Secure" in cookie_header(resp)


def test_the_cookie_is_secure_when_the_page_came_over_https_through_a_proxy(world):
    # a TLS-ending proxy talks plain http to waitress; the browser's Origin tells how the page was loaded
    _, resp = sign_in(world, ADMIN_KEY, Origin="https://localhost:8443")
    assert resp.status_code == 200 and "Secure" in cookie_header(resp)


def test_a_wrong_key_gets_no_session(world):
    client, resp = sign_in(world, "not-the-key-at-all")
    assert resp.status_code == 401 and resp.get_json()["error"] == "unauthorized"
    assert "Set-Cookie" not in resp.headers
    assert client.get("/dashboard/session").get_json()["signedIn"] is False
    assert client.get("/api/clients").status_code == 401


def test_sign_in_from_another_origin_is_refused(world):
    _, resp = sign_in(world, ADMIN_KEY, Origin="https://evil.example")
    assert resp.status_code == 403 and "Set-Cookie" not in resp.headers
    _, same = sign_in(world, ADMIN_KEY, Origin=ORIGIN)
    assert same.status_code == 200


def test_sign_in_needs_a_json_body(world):
    client = world.app.test_client()
    resp = client.post("/dashboard/session", data={"key": ADMIN_KEY})  # a form, as another site could post
    assert resp.status_code == 415 and "Set-Cookie" not in resp.headers


def test_reads_work_with_the_cookie_and_are_not_cached(world):
    client, _ = sign_in(world, ADMIN_KEY)
    resp = client.get("/api/clients")
    assert resp.status_code == 200 and [c["clientId"] for c in resp.get_json()] == ["alice", "bob", "carol"]
    assert resp.headers["Cache-Control"] == "no-store"


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(world):
    client, resp = sign_in(world, ADMIN_KEY)
    token = resp.get_json()["csrfToken"]
    for headers in ({}, {CSRF_HEADER: "wrong"}, {CSRF_HEADER: token[:-1]}):
        refused = client.delete("/api/clients/carol", headers=headers)
        assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden", headers
    assert "carol" in [c["clientId"] for c in client.get("/api/clients").get_json()]
    done = client.delete("/api/clients/carol", headers={CSRF_HEADER: token})
    assert done.status_code == 200 and done.get_json()["deleted"] is True


def test_a_key_in_a_header_does_not_need_the_csrf_token(world):
    assert world.call("DELETE", "/api/clients/carol").status_code == 200  # the API as before


def test_a_scoped_session_sees_only_its_clients(world):
    key = world.new_key("bob")
    client, resp = sign_in(world, key)
    body = resp.get_json()
    assert body["role"] == "scoped" and body["keyId"].startswith("key_")
    assert [c["clientId"] for c in client.get("/api/clients").get_json()] == ["bob"]
    assert client.get("/api/clients/alice").status_code == 404
    overview = client.get("/api/dashboard").get_json()
    assert [c["clientId"] for c in overview["clients"]] == ["bob"]
    assert overview["health"]["residentMemoryBytes"] is None and overview["health"]["webhookBacklog"] is None
    token = {CSRF_HEADER: body["csrfToken"]}
    assert client.post("/api/clients", json={"clientId": "x", "phone": "+4915111111111"}, headers=token).status_code == 403
    assert client.get("/metrics").status_code == 403


def test_revoking_the_key_ends_its_sessions(world):
    key = world.new_key("bob")
    client, _ = sign_in(world, key)
    key_id = client.get("/dashboard/session").get_json()["keyId"]
    assert world.call("DELETE", f"/api/keys/{key_id}").status_code == 200
    assert client.get("/api/clients").status_code == 401
    assert client.get("/dashboard/session").get_json()["signedIn"] is False


def test_sign_out_ends_the_session_and_needs_the_token(world):
    client, resp = sign_in(world, ADMIN_KEY)
    token = resp.get_json()["csrfToken"]
    assert client.delete("/dashboard/session").status_code == 403  # another site cannot sign you out either
    out = client.delete("/dashboard/session", headers={CSRF_HEADER: token})
    assert out.status_code == 200 and out.get_json() == {"signedOut": True}
    assert "Max-Age=0" in cookie_header(out)
    client.set_cookie(COOKIE, cookie_header(resp).split(";")[0].split("=", 1)[1])  # the old id, replayed
    assert client.get("/api/clients").status_code == 401


def test_sessions_expire_when_idle_and_at_their_maximum_age():
    now = [1000.0]
    book = SessionBook(idle_seconds=60, max_seconds=300, capacity=2, clock=lambda: now[0])
    idle_id, _ = book.open(None)
    now[0] += 61
    assert book.find(idle_id) is None
    used_id, _ = book.open("ab" * 32)
    for _ in range(5):
        now[0] += 59
        assert book.find(used_id) is not None  # use keeps it alive ...
    now[0] += 59
    assert book.find(used_id) is None  # ... up to max_seconds
    first, _ = book.open(None)
    book.open(None)
    book.open(None)  # over capacity: the oldest goes
    assert book.find(first) is None and len(book) == 2


def conditional_get(world, etag: str):
    return world.client.get("/api/dashboard", headers={"x-api-key": ADMIN_KEY, "If-None-Match": etag})


def test_overview_has_counts_and_answers_304_while_unchanged(world):
    metrics = world.app.extensions[METRICS_EXTENSION]
    metrics.watch(world.registry, world.events)  # as the server wires it
    metrics.sent.labels("alice").inc(2)  # what /metrics counts is what the overview shows
    metrics.send_failed.labels("bob", "upstream").inc()
    resp = world.call("GET", "/api/dashboard")
    body = resp.get_json()
    assert [c["clientId"] for c in body["clients"]] == ["alice", "bob", "carol"]
    counts = [(c["queueLength"], c["sent"], c["failed"]) for c in body["clients"]]
    assert counts == [(0, 2, 0), (0, 0, 1), (0, 0, 0)]
    assert 'wamulti_messages_sent_total{client="alice"} 2.0' in world.call("GET", "/metrics").get_data(as_text=True)
    assert body["health"]["storeOk"] is True and body["health"]["webhookBacklog"] == {"held": 0, "pendingClients": 0}
    again = conditional_get(world, resp.headers["ETag"])
    if again.status_code == 200:  # the process grew by a MiB between the two: the body changed
        assert again.get_json()["health"]["residentMemoryBytes"] != body["health"]["residentMemoryBytes"]
    else:
        assert again.status_code == 304 and again.get_data() == b""
    world.call("DELETE", "/api/clients/carol")
    changed = conditional_get(world, resp.headers["ETag"])
    assert changed.status_code == 200 and len(changed.get_json()["clients"]) == 2


def test_the_page_and_its_files_carry_the_policy(world):
    client = world.app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = page.get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    script = client.get("/dashboard/static/js/main.js")
    assert script.status_code == 200 and script.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["X-Frame-Options"] == "DENY"


def test_overview_over_the_registry_double_and_with_the_store_down():
    """The overview through the FakeRegistry test double: the store's health comes through as it is."""
    fake = FakeRegistry()
    fake.add("one")
    fake.store_ok = False
    app = create_app(Settings(api_key=ADMIN_KEY), fake)
    body = app.test_client().get("/api/dashboard", headers={"x-api-key": ADMIN_KEY}).get_json()
    assert [(c["clientId"], c["queueLength"], c["sent"]) for c in body["clients"]] == [("one", 0, 0)]
    assert body["health"]["storeOk"] is False and body["health"]["residentMemoryBytes"] is None
