"""CLUSTER=on: a command for a client another instance runs goes to that instance and its answer
comes back as it is; with no owner, 503 no_owner (reads answer from the store). The owner here is a
real second app on a loopback port; where each client runs is a named test double of ClusterNode."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.fake_registry import FakeRegistry
from wamulti.cluster.whereabouts import Owner
from wamulti.config import Settings
from wamulti.web.app import create_app
from wamulti.web.forwarding import FORWARDED

KEY = "cluster-key-0123456789abcdef"
HERE = "here"


class StubCluster:
    """Test double of ClusterNode: `where` maps a client id to HERE, an Owner or None (no owner)."""

    HERE = HERE

    def __init__(self, instance_id: str):
        self.instance_id = instance_id
        self.where: dict[str, object] = {}

    def locate(self, client_id: str):
        return self.where.get(client_id, HERE)


@pytest.fixture
def owner():
    """The owning instance: a real HTTP server on loopback over its own FakeRegistry."""
    registry = FakeRegistry()
    registry.add("far", "READY", phone="491511111111")
    cluster = StubCluster("inst-owner")
    server = make_server("127.0.0.1", 0, create_app(Settings(api_key=KEY), registry, cluster=cluster), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield registry, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def asked(owner):
    """The instance a request arrives at: it runs `near`; `far` runs at the owner; `lost` nowhere."""
    registry = FakeRegistry()
    registry.add("near", "READY", phone="491512222222")
    registry.add("lost", "READY", phone="491513333333")
    cluster = StubCluster("inst-asked")
    cluster.where = {"far": Owner("inst-owner", owner[1]), "lost": None}
    return registry, create_app(Settings(api_key=KEY), registry, cluster=cluster).test_client()


def test_a_command_for_a_client_elsewhere_is_answered_by_its_owner(owner, asked):
    owner_registry, _ = owner
    registry, client = asked
    answer = client.post("/api/clients/far/pair", json={}, headers={"x-api-key": KEY})
    assert answer.status_code == 409  # the owner's own answer: READY and paired
    assert answer.json["error"] == "conflict"
    assert [c[0] for c in owner_registry.calls].count("pair") == 1
    assert "pair" not in [c[0] for c in registry.calls]
    got = client.get("/api/clients/far", headers={"x-api-key": KEY})
    assert got.status_code == 200 and got.json["clientId"] == "far" and got.json["phone"] == "491511111111"


def test_a_client_here_is_answered_here_and_a_forwarded_request_never_hops_again(asked):
    registry, client = asked
    assert client.get("/api/clients/near", headers={"x-api-key": KEY}).json["clientId"] == "near"
    again = client.get("/api/clients/far", headers={"x-api-key": KEY, FORWARDED: "inst-other"})
    assert again.status_code == 404  # answered here, where `far` does not run


def test_with_no_owner_commands_answer_503_no_owner_and_reads_come_from_here(asked):
    _, client = asked
    answer = client.delete("/api/clients/lost", headers={"x-api-key": KEY})
    assert answer.status_code == 503 and answer.json["error"] == "no_owner"
    assert answer.headers["Retry-After"]
    assert client.get("/api/clients/lost", headers={"x-api-key": KEY}).json["state"] == "READY"


def test_nothing_is_forwarded_without_a_valid_key(owner, asked):
    owner_registry, _ = owner
    _, client = asked
    assert client.post("/api/clients/far/pair", json={}, headers={"x-api-key": "wrong"}).status_code == 401
    assert "pair" not in [c[0] for c in owner_registry.calls]


def test_an_owner_that_does_not_answer_is_no_owner(asked):
    registry, client = asked
    client.application.extensions["wamulti.cluster"].where["far"] = Owner("inst-gone", "http://127.0.0.1:9")
    answer = client.post("/api/clients/far/pair", json={}, headers={"x-api-key": KEY})
    assert answer.status_code == 503 and answer.json["error"] == "no_owner"
