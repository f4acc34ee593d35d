"""Fault drills on the real server with MariaDB: a SIGKILL with 50 READY clients, a 30 s database outage."""

from __future__ import annotations

import time
import zlib

import pytest

from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow




def send(server, client_id, text="drill"):
    return server.request("POST", "/api/messages/send", {"clientId": client_id, "to": "+4915123456789", "text": text})


def test_sigkill_with_50_ready_clients_loses_nothing(tmp_path, db):
    env, store = db
    server = ServerProcess(tmp_path / "data", {**env, "SIM_PAIR_DELAY": "0.2"}).start()
    try:
        for i in range(50):
            assert server.request("POST", "/api/clients", {"clientId": f"k{i:02d}", "phone": f"+3161234{i:04d}"}).status == 201
        server.wait_all_ready(50, timeout=60)
        before = {c["clientId"]: c["jid"] for c in server.clients()}
        snapshots = {cid: store.load_snapshot(cid).sha256 for cid in before}
        server.kill()
    finally:
        server.close()
    again = ServerProcess(tmp_path / "data", {**env, "SIM_PAIR_DELAY": "600"}).start()  # re-pairing would hang
    try:
        again.wait_all_ready(50, timeout=30)
        after = again.clients()
        assert {c["clientId"]: c["jid"] for c in after} == before
        assert all(c["pairingCode"] is None for c in after)
        assert {cid: store.load_snapshot(cid).sha256 for cid in before} == snapshots
        assert send(again, "k07").status == 200
    finally:
        again.close()


def test_database_outage_of_30_seconds(tmp_path, db, mariadb):
    env, store = db
    # simulated phones take 3 s to enter a code, so "late" pairs while the database is down
    server = ServerProcess(tmp_path / "data", {**env, "SIM_PAIR_DELAY": "3"}).start()
    try:
        for cid in ("d1", "d2"):
            assert server.request("POST", "/api/clients", {"clientId": cid, "phone": "+4915100000001"}).status == 201
        server.wait_all_ready(2)
        # its state and its keys must reach the store after the outage
        server.request("POST", "/api/clients", {"clientId": "late", "phone": "+4915100000009"})
        mariadb.stop()
        down_at = time.monotonic()
        try:
            health = server.request("GET", "/healthz", key=None)
            assert health.status == 503 and health.json["status"] == "degraded"
            created = server.request("POST", "/api/clients", {"clientId": "during", "phone": "+4915100000002"})
            assert created.status == 503 and created.json["error"] == "store_unavailable"
            while time.monotonic() - down_at < 30:
                states = {c["clientId"]: c["state"] for c in server.clients()}
                assert states["d1"] == "READY" and states["d2"] == "READY"
                refused = send(server, "d1")  # a send is durable or not accepted: never held in memory only
                assert refused.status == 503 and refused.json["error"] == "store_unavailable", refused
                assert refused.headers["retry-after"] == "5"
                assert server.proc.poll() is None
                time.sleep(2)
            assert {c["clientId"]: c["state"] for c in server.clients()}["late"] == "READY"
        finally:
            mariadb.start()
        assert server.request("GET", "/healthz", key=None).status == 200
        assert send(server, "d1").status == 200, "sending again once the store is back"
        live = {c["clientId"]: c for c in server.clients()}

        def stored_matches():
            rows = {r.client_id: r for r in store.list_clients()}
            snap = store.load_snapshot("late")
            return (set(rows) == {"d1", "d2", "late"} and snap is not None
                    and all(rows[k].state == live[k]["state"] and rows[k].jid == live[k]["jid"] for k in live))

        server.wait_for(stored_matches, 20, "pending writes flushed after the outage")
        keys = zlib.decompress(store.load_snapshot("late").data)
        assert b"15100000009@s.whatsapp.net" in keys
        code, _ = server.terminate()
        assert code == 0
    finally:
        server.close()
