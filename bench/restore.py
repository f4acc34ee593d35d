"""Restore time: 1,000 paired simulator clients stored in MariaDB.

1. cold: no local files, every session restored from its stored snapshot; process start -> all READY.
2. after SIGKILL: the server is killed, every local session file moves on (newer than its stored
   snapshot, as after a crash between two snapshots), and the server starts again; process start ->
   all READY, and how many local files were overwritten (must be 0).

"All READY" is the server's own time of the last client's change to READY (its `updatedAt`), from
the moment the process was launched; the benchmark looks every POLL seconds, so that listing
1,000 clients twenty times a second does not slow down what it measures.

    python -m bench.restore             # targets: cold <= 20 s, after SIGKILL <= 10 s with 0 overwritten
    python -m bench.restore --base REV  # also commit REV's tree (unpacked with `git archive`), same method,
                                        # same run, on a database of its own: a change's before/after
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
import zlib
from datetime import datetime
from pathlib import Path

from bench.common import ServerProcess, report, start_mariadb
from bench.sends import unpack
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord

COUNT = 1000
POLL = 0.25  # seconds between two looks at the client list


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


def last_ready(server: ServerProcess) -> float | None:
    """The server's time (epoch seconds) the last client became READY; None while one is not READY."""
    clients = server.clients()
    if len(clients) != COUNT or any(c["state"] != "READY" for c in clients):
        return None
    return max(datetime.fromisoformat(c["updatedAt"].replace("Z", "+00:00")).timestamp() for c in clients)


def timed_start(data: Path, env: dict, root: Path | None) -> tuple[ServerProcess, float, float]:
    """Start a server; (it, seconds to its first answer, seconds to all READY), from its launch."""
    server = ServerProcess(data, env)
    server.root = root or server.root
    launched, started = time.time(), time.monotonic()
    server.start(timeout=60)
    answered = time.monotonic() - started
    ready_at = server.wait_for(lambda: last_ready(server), timeout=300, what=f"{COUNT} clients READY", poll=POLL)
    return server, answered, ready_at - launched


def run(mariadb, tmp: Path, base: str | None) -> list[dict]:
    """Both starts of one tree (this one, or commit base's) on a database of its own."""
    name = base or "this tree"
    root = unpack(base, tmp / f"tree-{base}") if base else None
    database = mariadb.new_database()
    store = open_store(mariadb.settings(database))
    seed(store, COUNT)
    store.close()
    env = {**mariadb.env(database), "LOG_LEVEL": "WARNING"}
    data = tmp / f"data-{base or 'this'}"
    server, answered, total = timed_start(data, env, root)
    rows = [{"tree": name, "start": "cold (from store)", "first_answer_s": round(answered, 2),
             "all_ready_s": round(total, 2), "local_files_overwritten": "-"}]
    time.sleep(5)  # let the restored files' sidecars settle, as in a running service
    server.kill()
    server.close()
    newer = advance(data / "sessions")
    server, answered, total = timed_start(data, env, root)
    try:
        overwritten = sum(path.read_bytes() != raw for path, raw in newer.items())
    finally:
        server.close()
    rows.append({"tree": name, "start": "after SIGKILL", "first_answer_s": round(answered, 2),
                 "all_ready_s": round(total, 2), "local_files_overwritten": overwritten})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", help="also measure commit BASE's tree, the same way, in the same run")
    args = parser.parse_args()
    mariadb = start_mariadb()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="wamulti-bench-") as tmp:
            for base in ([args.base] if args.base else []) + [None]:
                rows += run(mariadb, Path(tmp), base)
    finally:
        mariadb.destroy()
    cold, killed = rows[-2], rows[-1]
    met = cold["all_ready_s"] <= 20 and killed["all_ready_s"] <= 10 and killed["local_files_overwritten"] == 0
    report("restore", rows, {"clients": COUNT, "target": "cold <= 20 s; after SIGKILL <= 10 s, 0 files overwritten",
                             "met (this tree)": met})


if __name__ == "__main__":
    main()
