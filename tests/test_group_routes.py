"""The group routes in process, on a real registry over the fake backend: a client that is not READY answers
503 client_not_ready like a send (nothing asked of WhatsApp), and a backend without group calls 502."""

from __future__ import annotations

from wamulti.config import Settings
from wamulti.web.app import create_app

KEY = "test-key-0123456789abcdef"


def get(registry, path):
    return create_app(Settings(api_key=KEY), registry).test_client().get(path, headers={"x-api-key": KEY})


def test_a_client_that_is_not_ready_answers_503_with_its_state(make_registry):
    registry = make_registry(console=False)
    registry.create("alice", "4915100000001")  # pairing: the fake phone never enters the code
    for path in ("/api/clients/alice/groups", "/api/clients/alice/groups/120363012345678901@g.us",
                 "/api/clients/alice/groups?refresh=true"):
        resp = get(registry, path)
        assert resp.status_code == 503 and resp.get_json()["error"] == "client_not_ready", resp.get_data()
        assert resp.get_json()["currentState"] in ("CONNECTING", "PAIRING") and resp.headers["Retry-After"]
    assert registry.groups("alice").metadata_calls == 0


def test_a_backend_without_group_calls_is_an_upstream_error(make_registry, fake_backend):
    from tests.conftest import drive_to_ready, wait_until

    registry = make_registry(console=False)
    registry.create("alice", "4915100000001")
    session = fake_backend.wait_session(1)
    drive_to_ready(session)
    wait_until(lambda: registry.get("alice").state == "READY")
    resp = get(registry, "/api/clients/alice/groups")
    assert resp.status_code == 502 and resp.get_json() == {"error": "upstream_error",
                                                           "message": "This backend has no group calls."}
