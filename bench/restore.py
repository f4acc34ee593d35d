"""Restore time: 1,000 paired simulator clients stored in MariaDB.

1. cold: no local files, every session restored from its stored snapshot; process start -> all READY.
2. after SIGKILL: the server is killed, every local session file moves on (newer than its stored
   snapshot, as after a crash between two snapshots), and the server starts again; process start ->
   all READY, and how many local files were overwritten (must be 0).

    python -m bench.restore           # targets: cold <= 20 s, after SIGKILL <= 10 s with 0 overwritten
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
import zlib
from pathlib import Path

from bench.common import ServerProcess, report, start_mariadb
from wamulti.store import open_store
from wamulti.store.base import ClientRecord

COUNT = 1000


def seed(store, count: int) -> None:
    """Rows and session snapshots exactly as a paired simulator client leaves them."""
    for i in range(count):
        jid = f"4915{i:08d}@s.whatsapp.net"
        raw = json.dumps({"jid": jid, "identity_key": hashlib.sha256(jid.encode()).hexdigest(),
                          "registration_id": i, "device_uuid": f"bench-{i}"}).encode()
        store.create_client(ClientRecord(f"r{i:04d}", "READY", phone=jid.split("@")[0], jid=jid))
        store.save_snapshot(f"r{i:04d}", zlib.compress(raw), hashlib.sha256(raw).hexdigest())


def advance(sessions: Path) -> dict[Path, bytes]:
    """Every local file gets newer than its stored snapshot."""
    newer = {}
    for path in sorted(sessions.glob("*.session")):
        keys = json.loads(path.read_text())
        keys["ratchet"] = "moved after the last snapshot"
        newer[path] = json.dumps(keys).encode()
        path.write_bytes(newer[path])
    return newer


def timed_start(data: Path, env: dict) -> tuple[ServerProcess, float, float]:
    server = ServerProcess(data, env)
    started = time.monotonic()
    server.start(timeout=60)
    answered = time.monotonic() - started
    server.wait_all_ready(COUNT, timeout=300)
    return server, answered, time.monotonic() - started


def main() -> None:
    mariadb = start_mariadb()
    rows = []
    try:
        database = mariadb.new_database()
        store = open_store(mariadb.settings(database))
        seed(store, COUNT)
        store.close()
        env = {**mariadb.env(database), "LOG_LEVEL": "WARNING"}
        with tempfile.TemporaryDirectory(prefix="wamulti-bench-") as tmp:
            data = Path(tmp) / "data"
            server, answered, total = timed_start(data, env)
            rows.append({"start": "cold (from store)", "first_answer_s": round(answered, 2),
                         "all_ready_s": round(total, 2), "local_files_overwritten": "-"})
            time.sleep(5)  # let the restored files' sidecars settle, as in a running service
            server.kill()
            server.close()
            newer = advance(data / "sessions")
            server, answered, total = timed_start(data, env)
            try:
                overwritten = sum(path.read_bytes() != raw for path, raw in newer.items())
            finally:
                server.close()
            rows.append({"start": "after SIGKILL", "first_answer_s": round(answered, 2),
                         "all_ready_s": round(total, 2), "local_files_overwritten": overwritten})
    finally:
        mariadb.destroy()
    met = rows[0]["all_ready_s"] <= 20 and rows[1]["all_ready_s"] <= 10 and rows[1]["local_files_overwritten"] == 0
    report("restore", rows, {"clients": COUNT, "target": "cold <= 20 s; after SIGKILL <= 10 s, 0 files overwritten",
                             "met": met})


if __name__ == "__main__":
    main()
