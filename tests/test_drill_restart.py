"""Crash drill: SIGKILL the server with 50 READY simulator clients whose local session files are
newer than their stored snapshots; the restart overwrites none of them and brings every account back
that should come back (also those CLOSED for a transient reason), and none closed for good."""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import replace

import pytest

from tests.server_process import ServerProcess
from wamulti.sessions import session_file

pytestmark = pytest.mark.slow

COUNT = 50
TRANSIENT = {"k00": "connect_failed: dial tcp: i/o timeout", "k01": "internal_error"}
TERMINAL = {"k02": "stream_replaced", "k03": "pairing_failed: bad code"}




def session_path(tmp_path, client_id):
    return tmp_path / "data" / "sessions" / f"{client_id}.session"


def advance_local_files(tmp_path) -> dict[str, bytes]:
    """What the library would have written after the last snapshot: every file moves on."""
    newer = {}
    for i in range(COUNT):
        path = session_path(tmp_path, f"k{i:02d}")
        keys = json.loads(path.read_text())
        keys["ratchet"] = f"moved after the last snapshot {i}"
        newer[path.stem] = json.dumps(keys).encode()
        path.write_bytes(newer[path.stem])
    for i in range(40, 45):  # files as an older version left them: no sidecar
        (session_path(tmp_path, f"k{i}").with_suffix(".session.gen")).unlink()
    return newer


def test_sigkill_restart_keeps_every_newer_local_file_and_brings_the_accounts_back(tmp_path, db):
    env, store = db
    server = ServerProcess(tmp_path / "data", {**env, "SIM_PAIR_DELAY": "0.2"}).start()
    try:
        for i in range(COUNT):
            assert server.request("POST", "/api/clients", {"clientId": f"k{i:02d}", "phone": f"+3161234{i:04d}"}).status == 201
        server.wait_all_ready(COUNT, timeout=60)
        server.wait_for(lambda: all(session_file.read_sidecar(session_path(tmp_path, f"k{i:02d}"))
                                    for i in range(COUNT)), 30, "every snapshot saved")
        server.kill()
    finally:
        server.close()
    newer = advance_local_files(tmp_path)
    for client_id, reason in {**TRANSIENT, **TERMINAL}.items():
        store.save_client(replace(store.get_client(client_id), state="CLOSED", last_error=reason))
    started = time.monotonic()
    again = ServerProcess(tmp_path / "data", {**env, "SIM_PAIR_DELAY": "600"}).start()  # re-pairing would hang
    try:
        back = COUNT - len(TERMINAL)
        again.wait_for(lambda: sum(c["state"] == "READY" for c in again.clients()) == back, 30, "accounts back")
        assert time.monotonic() - started < 30
        states = {c["clientId"]: (c["state"], c["lastError"]) for c in again.clients()}
        assert all(states[cid] == ("CLOSED", reason) for cid, reason in TERMINAL.items())
        assert all(session_path(tmp_path, cid).read_bytes() == data for cid, data in newer.items()), \
            "no local file was overwritten"
        again.wait_for(lambda: all(zlib.decompress(store.load_snapshot(cid).data) == newer[cid]
                                   for cid in ("k05", "k41", "k00")), 20, "the newer files saved")
        again.wait_for(lambda: again.request("GET", "/healthz", key=None).json["snapshots"] ==
                       {"behind": 0, "maxLagSeconds": 0.0}, 20, "every store copy in sync")
        k05 = again.request("GET", "/api/clients/k05").json
        assert k05["snapshotLagSeconds"] == 0.0 and k05["lastSnapshotAt"].endswith("Z")
        assert again.request("POST", "/api/messages/send",
                             {"clientId": "k07", "to": "+4915123456789", "text": "after"}).status == 200
    finally:
        again.close()
