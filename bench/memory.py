"""What an account costs: paired neonize clients in the server, and a pairing child, per client.

1. Paired clients: 0, 50 and 200 clients whose rows and keys are in the embedded store (a session
   database made by the real library) are restored by a fresh server, in two networks:
   - waiting: the proxy is a closed loopback port; each client's dial is refused and it waits
     (`waiting_for_network` or reconnect backoff), without a library client;
   - dialling: the proxy is a loopback listener that accepts and never answers; each client holds
     its library client (Go) in a dial that hangs, as while WhatsApp is slow to answer.
   Reading: the server's RSS once every client got there (and SETTLE seconds more), MB per
   additional client (0, 50, 200 waiting; 0, 50 dialling, whose starts go one at a time).
2. Unpaired clients pair in a child process each (backends/neonize/pairing_child.py): CHILDREN of
   them are started as the server starts them, one after another, against a loopback listener that
   accepts and never answers (a dial that hangs, as a pairing waits for its QR). Reading, per child
   once it is dialling: its RSS and the CPU it took to start (Python, neonize, Go, the dial).

Every process that may dial WhatsApp has HTTPS_PROXY/HTTP_PROXY on loopback: nothing leaves the machine.

    .venv/bin/python -m bench.memory    # target: <= 2 MB per additional paired client
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ServerProcess, cpu_seconds, report, rss_mb
from tests.server_process import free_port
from tests.silent_listener import SilentListener

COUNTS = {"waiting": (0, 50, 200),
          # a start whose dial hangs holds the Go lock ~1 s (docs/neonize.md "The Go lock"): 200 take minutes
          "dialling": (0, 50)}
CHILDREN = 5
SETTLE = 5.0  # seconds after the last client reached its steady state
CLOSED_PROXY = f"http://127.0.0.1:{free_port()}"  # bound and closed again: nothing listens there
PAIRING_CHILD = "wamulti.backends.neonize.pairing_child"
REFUSED = ("connect_failed", "waiting_for_network")  # a paired client after its first refused dial


def offline_env(proxy: str) -> dict[str, str]:
    return {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "NO_PROXY": ""}


def session_database(tmp: Path) -> bytes:
    """A whatsmeow session database made by the real library (its offline dial creates the tables),
    compressed as the store keeps it; made in a child so that this process never loads Go."""
    path = tmp / "made.session"
    code = ("import sys; from pathlib import Path; from wamulti.config import Settings; "
            "from wamulti.backends import backend_api as bk; from wamulti.backends.neonize.neonize_backend import NeonizeBackend\n"
            "backend = NeonizeBackend(Settings(api_key='k' * 16, data_dir=Path(sys.argv[1]).parent))\n"
            "session = backend.new_session('maker', Path(sys.argv[1]), lambda e: None)\n"
            "try:\n    session.connect()\nexcept bk.ConnectFailed:\n    pass\n"
            "session.stop(); backend.close()")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=120,
                   env={**os.environ, **offline_env(CLOSED_PROXY)}, cwd=Path(__file__).resolve().parent.parent)
    return path.read_bytes()


def seed(data_dir: Path, count: int, database: bytes) -> None:
    """Rows and snapshots of `count` paired clients in the embedded store the server will open."""
    import hashlib
    import zlib

    from wamulti.config import Settings
    from wamulti.store import open_store
    from wamulti.store.store_api import ClientRecord

    store = open_store(Settings(api_key="k" * 16, data_dir=data_dir))
    compressed, sha = zlib.compress(database), hashlib.sha256(database).hexdigest()
    for i in range(count):
        jid = f"4915{i:08d}@s.whatsapp.net"
        store.create_client(ClientRecord(f"m{i:03d}", "READY", phone=jid.split("@")[0], jid=jid))
        store.save_snapshot(f"m{i:03d}", compressed, sha)
    store.close()


def paired_server_rss(count: int, database: bytes, tmp: Path, network: str) -> tuple[float, float]:
    """(RSS in MB, seconds from start until every client got there) of a server restoring `count`
    paired clients; `network`: "waiting" (a closed proxy port) or "dialling" (a silent listener)."""
    data_dir = tmp / f"{network}-{count}" / "data"
    data_dir.mkdir(parents=True)
    seed(data_dir, count, database)
    silent = SilentListener() if network == "dialling" else None
    env = {"WA_BACKEND": "neonize", "LOG_LEVEL": "WARNING", **offline_env(silent.url if silent else CLOSED_PROXY)}
    began = time.monotonic()
    server = ServerProcess(data_dir, env).start(timeout=120)
    try:
        if silent:
            assert silent.wait_accepted(count, 300), f"{silent.accepted} of {count} clients dialled"
        else:
            server.wait_for(lambda: len(clients := server.clients()) == count and all(
                (c["lastError"] or "").startswith(REFUSED) for c in clients), 300, "every client refused", poll=0.5)
        took = time.monotonic() - began
        time.sleep(SETTLE)  # allocations settle; reading RSS afterwards is the measurement
        return rss_mb(server.proc.pid), took
    finally:
        server.close()
        if silent:
            silent.close()


def pairing_children(count: int, tmp: Path) -> list[dict]:
    """Start `count` pairing children one after another; each one's RSS and start-up CPU once it dials."""
    silent = SilentListener()
    rows, children = [], []
    try:
        for i in range(count):
            read_fd, write_fd = os.pipe()
            began = time.monotonic()
            child = subprocess.Popen([sys.executable, "-m", PAIRING_CHILD, str(tmp / f"child-{i}.session"),
                                      f"child-{i}", str(write_fd), "WARNING"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     pass_fds=(write_fd,), env={**os.environ, **offline_env(silent.url)})
            os.close(write_fd)
            children.append((child, read_fd))
            assert silent.wait_accepted(i + 1, 120), "the pairing child did not dial"
            rows.append({"child": i, "rss_mb": round(rss_mb(child.pid), 1), "startup_cpu_s": round(
                cpu_seconds(child.pid), 2), "to_dial_s": round(time.monotonic() - began, 2)})
    finally:
        for child, read_fd in children:
            child.stdin.close()  # as when the server goes away: the child ends by itself
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            os.close(read_fd)
        silent.close()
    return rows


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="wamulti-bench-") as tmp_name:
        tmp = Path(tmp_name)
        database = session_database(tmp)
        for network in ("waiting", "dialling"):
            readings = {n: paired_server_rss(n, database, tmp, network) for n in COUNTS[network]}
            for n, (rss, took) in readings.items():
                per = (rss - readings[0][0]) / n if n else 0.0
                rows.append({"what": f"paired, {network}", "clients": n, "rss_mb": round(rss, 1),
                             "mb_per_client": round(per, 3), "all_there_after_s": round(took, 1)})
        children = pairing_children(CHILDREN, tmp)
    for child in children:
        rows.append({"what": "pairing child", "clients": 1, "rss_mb": child["rss_mb"], "mb_per_client": child["rss_mb"],
                     "all_there_after_s": "", "startup_cpu_s": child["startup_cpu_s"], "to_dial_s": child["to_dial_s"]})
    for row in rows:
        row.setdefault("startup_cpu_s", "")
        row.setdefault("to_dial_s", "")
    paired = max(r["mb_per_client"] for r in rows if r["what"].startswith("paired"))
    report("memory", rows, {
        "target": "<= 2 MB per additional paired client", "met": paired <= 2.0,
        "pairing_child_mean_rss_mb": round(sum(c["rss_mb"] for c in children) / len(children), 1),
        "pairing_child_mean_startup_cpu_s": round(sum(c["startup_cpu_s"] for c in children) / len(children), 2)})


if __name__ == "__main__":
    main()
