"""Restore time: 1,000 paired simulator clients stored in MariaDB; process start -> all READY.

    python -m bench.restore           # target: <= 20 s on a 2-core machine
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


def main() -> None:
    mariadb = start_mariadb()
    try:
        database = mariadb.new_database()
        store = open_store(mariadb.settings(database))
        seed(store, COUNT)
        store.close()
        with tempfile.TemporaryDirectory(prefix="wamulti-bench-") as tmp:
            server = ServerProcess(Path(tmp) / "data", {**mariadb.env(database), "LOG_LEVEL": "WARNING"})
            started = time.monotonic()
            server.start(timeout=60)
            answered = time.monotonic() - started
            try:
                server.wait_all_ready(COUNT, timeout=300)
                total = time.monotonic() - started
            finally:
                server.close()
    finally:
        mariadb.destroy()
    report("restore", [{"clients": COUNT, "first_answer_s": round(answered, 2), "all_ready_s": round(total, 2)}],
           {"target": "<= 20 s from process start to all READY", "met": total <= 20})


if __name__ == "__main__":
    main()
