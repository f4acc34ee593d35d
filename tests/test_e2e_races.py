"""End to end: requests racing on one client through `python wsgi.py` (simulator backend), on SQLite
and MariaDB. Create, delete, pair, webhook changes and sends of one client id, fifty at once, over
many runs: no 5xx ever, each route answers only what docs/api.md "Races between requests on one
client" lists, and afterwards the API and the store agree (a deleted client leaves no row)."""

from __future__ import annotations

import collections
import random
import threading
import time

import pytest

from tests.server_process import ServerProcess
from wamulti.config import Settings
from wamulti.store import open_store

pytestmark = pytest.mark.slow

THREADS, RUNS = 50, 24
PHONE, TO = "+49 151 2345 6789", "+49 151 9876 5432"
HOOK_URL = "http://127.0.0.1:9/hook"  # a closed loopback port: deliveries fail, nothing leaves the host

# operation -> (how many of the THREADS do it each run, the answers it may give)
OPERATIONS = {
    "create": (6, {201, 409}),
    "delete": (6, {200, 404}),
    "pair": (4, {200, 404, 409}),
    "get": (3, {200, 404}),
    "webhook_put": (6, {200, 404}),
    "webhook_get": (3, {200, 404}),
    "webhook_delete": (4, {200, 404}),
    "send": (9, {200, 202, 404, 503}),
    "send_async": (9, {202, 404, 503}),
}
assert sum(n for n, _ in OPERATIONS.values()) == THREADS


def request(server, op: str, client_id: str):
    """One racing request; the answer."""
    path = f"/api/clients/{client_id}"
    message = {"clientId": client_id, "to": TO, "text": "race"}
    calls = {
        "create": ("POST", "/api/clients", {"clientId": client_id, "phone": PHONE}),
        "delete": ("DELETE", path, None),
        "pair": ("POST", f"{path}/pair", {"phone": PHONE}),
        "get": ("GET", path, None),
        "webhook_put": ("PUT", f"{path}/webhook", {"url": HOOK_URL}),
        "webhook_get": ("GET", f"{path}/webhook", None),
        "webhook_delete": ("DELETE", f"{path}/webhook", None),
        "send": ("POST", "/api/messages/send", message),
        "send_async": ("POST", "/api/messages/send", {**message, "wait": False}),
    }
    method, where, body = calls[op]
    return server.request(method, where, body, timeout=60)


@pytest.fixture(params=["sqlite", "mysql"])
def setup(request, tmp_path):
    """(server, store of the same data) with fast simulated pairing."""
    data_dir = tmp_path / "data"
    env, settings = {}, Settings(api_key="x" * 16, data_dir=data_dir)
    if request.param == "mysql":
        mariadb = request.getfixturevalue("mariadb")
        database = mariadb.new_database()
        env, settings = mariadb.env(database), mariadb.settings(database, data_dir=data_dir)
    server = ServerProcess(data_dir, {**env, "SIM_PAIR_DELAY": "0.05", "SIM_CONNECT_DELAY": "0.01",
                                      "SIM_SYNC_DELAY": "0.02", "SEND_WAIT": "2", "HTTP_THREADS": "16",
                                      # the hook's loopback receiver is one the operator opened
                                      "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}).start()
    store = open_store(settings, wait_seconds=5)
    yield server, store
    store.close()
    server.close()


def race(server, client_id: str, rng: random.Random) -> list[tuple[str, object]]:
    """THREADS requests on one client at once; (operation, answer) of each."""
    ops = [op for op, (count, _) in OPERATIONS.items() for _ in range(count)]
    rng.shuffle(ops)
    answers, barrier = [], threading.Barrier(THREADS)

    def one(op):
        barrier.wait(10)
        answers.append((op, request(server, op, client_id)))

    threads = [threading.Thread(target=one, args=(op,)) for op in ops]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert len(answers) == THREADS, "a request hung"
    return answers


def sent_ids(answers) -> list[str]:
    return [resp.json["messageId"] for op, resp in answers if op.startswith("send") and resp.status in (200, 202)]


def deleted(answers) -> bool:
    return any(op == "delete" and resp.status == 200 for op, resp in answers)


def assert_consistent(server, store, client_id: str, message_ids: list[str], was_deleted: bool) -> bool:
    """The API and the store agree on the client; a deleted one left nothing behind. True if it exists.
    An accepted send keeps its row unless a delete ran (a client created after it is another one)."""
    listed = {c["clientId"] for c in server.clients()}
    stored = store.get_client(client_id)
    assert (client_id in listed) == (stored is not None), (client_id, listed, stored)
    api_hook = server.request("GET", f"/api/clients/{client_id}/webhook").status
    store_hook = store.get_webhook(client_id)
    if stored is None:
        assert api_hook == 404 and store_hook is None, f"a webhook row of deleted {client_id}"
        assert store.open_sends(client_id) == [], f"queued sends of deleted {client_id}"
        assert [m for m in message_ids if store.get_send(m) is not None] == [], f"send rows of deleted {client_id}"
        assert store.list_events(client_id=client_id) == [], f"events of deleted {client_id}"
        assert store.load_snapshot(client_id) is None
        session = server.data_dir / "sessions" / f"{client_id}.session"
        server.wait_for(lambda: not session.exists(), 10, f"the session file of deleted {client_id} removed")
        return False
    assert (api_hook == 200) == (store_hook is not None), (api_hook, store_hook)
    assert was_deleted or all(store.get_send(m) is not None for m in message_ids), "an accepted send lost its row"
    return True


def test_fifty_requests_racing_on_one_client_never_5xx_and_leave_no_half_state(setup):
    server, store = setup
    rng = random.Random(23)
    counts: dict[str, collections.Counter] = {op: collections.Counter() for op in OPERATIONS}
    problems, survivors = [], []
    started = time.monotonic()
    for run in range(RUNS):
        client_id = f"race{run}"
        if run % 2:  # every other run races on a client that exists, READY, with a webhook
            assert request(server, "create", client_id).status == 201
            server.wait_for(lambda: request(server, "get", client_id).json["state"] == "READY", 10, "READY")
            assert request(server, "webhook_put", client_id).status == 200
        answers = race(server, client_id, rng)
        for op, resp in answers:
            counts[op][resp.status] += 1
            allowed = OPERATIONS[op][1]
            if resp.status not in allowed:
                problems.append(f"run {run}: {op} answered {resp}")
            if resp.status == 503 and resp.json["error"] != "client_not_ready":
                problems.append(f"run {run}: {op} answered {resp}")
        if assert_consistent(server, store, client_id, sent_ids(answers), deleted(answers)):
            survivors.append(client_id)
    elapsed = time.monotonic() - started
    print(f"\n{THREADS} threads x {RUNS} runs in {elapsed:.1f}s: "
          + "; ".join(f"{op} {dict(sorted(c.items()))}" for op, c in counts.items()))
    assert problems == []
    assert sorted(c["clientId"] for c in server.clients()) == sorted(survivors)
    assert sorted(r.client_id for r in store.list_clients()) == sorted(survivors)
    for op in ("create", "delete", "webhook_put", "send"):  # the races did happen both ways
        assert counts[op][404 if op != "create" else 409] > 0 and counts[op][min(OPERATIONS[op][1])] > 0, counts
    assert "unexpected error" not in server.log() and "Traceback" not in server.log()
