"""GET /metrics on a real server (simulator, SQLite, a loopback webhook receiver): the key is needed
(x-api-key or Bearer), the output parses with prometheus_client's own parser, and the series move
with what the clients do."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server_process import API_KEY, ServerProcess
from tests.webhook_receiver import Receiver
from wamulti.hearing.event_fields import new_secret

pytestmark = pytest.mark.slow

A, B = ("alice", "+4915100000001"), ("bob", "+4915100000002")


def scrape(server) -> dict:
    """{(name, frozenset(labels)): value} of every sample."""
    resp = server.request("GET", "/metrics", key=None, headers={"Authorization": f"Bearer {API_KEY}"})
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(resp.body.decode()) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver(new_secret())
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    env = {"SIM_PAIR_DELAY": "0.6", "SIM_READ_DELAY": "0.1", "WEBHOOK_URL": receiver.url(),
           "WEBHOOK_SECRET": receiver.secret}
    server = ServerProcess(tmp_path_factory.mktemp("metrics") / "data", env).start()
    yield server
    server.close()


def test_metrics_need_the_key(server):
    assert server.request("GET", "/metrics", key=None).status == 401
    assert server.request("GET", "/metrics", key="wrong-key-0123456789").status == 401
    wrong = server.request("GET", "/metrics", key=None, headers={"Authorization": "Bearer wrong-key"})
    assert wrong.status == 401 and wrong.json["error"] == "unauthorized"
    assert server.request("GET", "/metrics").status == 200  # x-api-key works too


def test_series_move_with_the_clients(server, receiver):
    before = scrape(server)
    assert value(before, "process_open_fds") > 0 and value(before, "process_resident_memory_bytes") > 10_000_000
    for client_id, phone in (A, B):
        assert server.request("POST", "/api/clients", {"clientId": client_id, "phone": phone}).status == 201
    early = server.request("POST", "/api/messages/send", {"clientId": A[0], "to": B[1], "text": "too early"})
    assert early.status == 503
    pairing = scrape(server)
    assert value(pairing, "wamulti_clients", state="PAIRING") == 2
    assert value(pairing, "wamulti_client_state", client=A[0], state="PAIRING") == 1
    assert value(pairing, "wamulti_messages_failed_total", client=A[0], reason="not_ready") == 1

    server.wait_all_ready(2)
    for text in ("one", "two", "three"):
        sent = server.request("POST", "/api/messages/send", {"clientId": A[0], "to": B[1], "text": text})
        assert sent.status == 200, sent
    server.wait_for(lambda: value(scrape(server), "wamulti_messages_received_total", client=B[0]) == 3,
                    what="bob's three messages counted")
    receiver.wait_for(lambda: len(receiver.delivered(B[0])) >= 3, what="webhook deliveries")
    after = scrape(server)
    assert value(after, "wamulti_clients", state="READY") == 2
    assert value(after, "wamulti_client_state", client=B[0], state="READY") == 1
    assert ("wamulti_client_state", frozenset({("client", B[0]), ("state", "PAIRING")})) not in after, \
        "one series per client: its current state"
    assert value(after, "wamulti_messages_sent_total", client=A[0]) == 3
    assert value(after, "wamulti_send_duration_seconds_count") == 4  # three sent, one refused
    assert value(after, "wamulti_store_call_duration_seconds_count", operation="save_clients") > 0
    assert value(after, "wamulti_store_errors_total", operation="save_client") == 0
    assert value(after, "wamulti_webhook_attempts_total", client=B[0], outcome="delivered") >= 3
    lags = {dict(labels)["client"]: v for (name, labels), v in after.items() if name == "wamulti_snapshot_lag_seconds"}
    assert all(v > 0 for v in lags.values()), "a lag series only for a client whose stored copy is behind"
    assert value(after, "wamulti_snapshots_behind") == len(lags)
    assert value(after, "wamulti_snapshot_lag_max_seconds") == max(lags.values(), default=0.0)
    assert value(after, "wamulti_webhook_backlog_held") == 0


def test_a_deleted_client_leaves_no_series(server):
    server.wait_for(lambda: value(scrape(server), "wamulti_messages_sent_total", client=A[0]) > 0,
                    what="alice's series")
    assert server.request("DELETE", f"/api/clients/{A[0]}").status == 200
    after = scrape(server)
    assert not [key for key in after if ("client", A[0]) in key[1]]
    unknown = server.request("POST", "/api/messages/send", {"clientId": "nobody", "to": B[1], "text": "x"})
    assert unknown.status == 404
    assert not [key for key in scrape(server) if ("client", "nobody") in key[1]]  # bounded: no such client
