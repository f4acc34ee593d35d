"""End to end: `python wsgi.py` with the simulator backend, on MariaDB and on the embedded SQLite store."""

from __future__ import annotations

import re
import threading
import time

import pytest

from tests.server_process import ServerProcess
from wamulti.config import Settings
from wamulti.store import open_store

CODE = re.compile(r"^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$")


@pytest.fixture(params=["mysql", "sqlite"])
def store_setup(request, tmp_path):
    """(env for the server, Settings to open the same store from the test)."""
    data_dir = tmp_path / "data"
    if request.param == "mysql":
        mariadb = request.getfixturevalue("mariadb")
        database = mariadb.new_database()
        return mariadb.env(database), mariadb.settings(database, data_dir=data_dir)
    return {}, Settings(api_key="x" * 16, data_dir=data_dir)


@pytest.fixture
def server_factory(tmp_path, store_setup):
    env, _ = store_setup
    servers = []

    def start(**extra_env) -> ServerProcess:
        server = ServerProcess(tmp_path / "data", {**env, **extra_env}).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def inspect_store(store_setup):
    _, settings = store_setup
    store = open_store(settings, wait_seconds=5)
    yield store
    store.close()


def create(server, client_id, phone="+49 151 2345-6789"):
    return server.request("POST", "/api/clients", {"clientId": client_id, "phone": phone})


def test_create_pair_restart_without_pairing_and_delete(server_factory, inspect_store, tmp_path):
    server = server_factory(SIM_PAIR_DELAY="0.5")
    resp = create(server, "work-phone")
    assert resp.status == 201, resp
    assert resp.headers["location"] == "/api/clients/work-phone"
    body = resp.json
    assert CODE.match(body["pairingCode"]), body
    assert body["phone"] == "4915123456789" and body["state"] == "PAIRING"
    assert create(server, "second", "+1 (415) 555-0100").status == 201
    server.wait_all_ready(2, timeout=20)
    jids = {c["clientId"]: c["jid"] for c in server.clients()}
    assert jids == {"work-phone": "4915123456789@s.whatsapp.net", "second": "14155550100@s.whatsapp.net"}
    session_file = tmp_path / "data" / "sessions" / "work-phone.session"
    assert session_file.exists()
    assert inspect_store.load_snapshot("work-phone") is not None

    server.kill()  # SIGKILL: no final snapshot, no goodbye
    session_file.unlink()  # the store, not the working copy, is the source of truth
    again = server_factory(SIM_PAIR_DELAY="30")  # a re-pairing would take 30 s: READY fast proves none
    elapsed = again.wait_all_ready(2, timeout=10)
    after = {c["clientId"]: c for c in again.clients()}
    assert {k: v["jid"] for k, v in after.items()} == jids
    assert all(c["pairingCode"] is None for c in after.values())
    assert elapsed < 5

    resp = again.request("DELETE", "/api/clients/work-phone")
    assert resp.status == 200 and resp.json["deleted"] is True and resp.json["clientId"] == "work-phone"
    assert resp.json["unlinked"] is True, "a READY client logs out at WhatsApp"
    assert [c["clientId"] for c in again.clients()] == ["second"]
    assert again.request("GET", "/api/clients/work-phone").status == 404
    assert inspect_store.get_client("work-phone") is None
    assert inspect_store.load_snapshot("work-phone") is None
    again.wait_for(lambda: not session_file.exists(), 5, "session file removed")
    assert again.request("DELETE", "/api/clients/work-phone").status == 404


def test_concurrent_creates_of_one_id_have_one_winner(server_factory, inspect_store):
    server = server_factory()
    statuses, barrier = [], threading.Barrier(20)

    def post():
        barrier.wait(5)
        statuses.append(create(server, "same-id").status)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [201] + [409] * 19
    assert [c.client_id for c in inspect_store.list_clients()] == ["same-id"]


def test_hundred_clients_ready_and_sigterm_exits_cleanly(server_factory, inspect_store):
    server = server_factory(SIM_PAIR_DELAY="0.5")
    started = time.monotonic()
    errors = []

    def post(block):
        for i in block:
            resp = create(server, f"c{i:03d}", f"+4915100{i:05d}")
            if resp.status != 201:
                errors.append(resp)

    threads = [threading.Thread(target=post, args=(range(k, 100, 8),)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    server.wait_all_ready(100, timeout=60)
    print(f"\n100 simulated clients READY {time.monotonic() - started:.2f}s after the first create")
    code, seconds = server.terminate()
    assert code == 0 and seconds < 10, server.log()[-2000:]
    rows = inspect_store.list_clients()
    assert len(rows) == 100 and all(r.jid for r in rows)

    restarted = server_factory()
    started = time.monotonic()
    restarted.wait_all_ready(100, timeout=60)
    print(f"100 restored clients READY {time.monotonic() - started:.2f}s after the server answered")


def test_unfinished_pairing_is_closed_on_restart_without_prompt(server_factory):
    server = server_factory(SIM_PAIR_DELAY="60")
    assert create(server, "half").status == 201
    server.kill()
    again = server_factory(SIM_PAIR_DELAY="60")
    client = again.request("GET", "/api/clients/half").json
    assert (client["state"], client["lastError"]) == ("CLOSED", "pairing_incomplete")
    resp = again.request("POST", "/api/clients/half/pair", {"phone": "+49 151 2345678"})
    assert resp.status == 200 and CODE.match(resp.json["pairingCode"]), resp
