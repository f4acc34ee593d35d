"""Snapshots at scale: 200 READY simulator clients whose session files change every second, for 60 s,
on MariaDB: the server's CPU (helpers and children included) and the database's writes per second,
with SNAPSHOT_HELPERS=0 (before: a process and a transaction per snapshot) and the default (after:
long-lived helpers, batched writes), measured one after the other in one run.

    python -m bench.snapshots            # prints before/after and the ratios
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import CLK_TCK, ServerProcess, report, start_mariadb

CLIENTS = 200
WINDOW = float(os.environ.get("BENCH_WINDOW", "60"))
SETTLE = 8.0
MODES = {"before": "0", "after": "2"}


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process, of its reaped children, and of its live children (the helpers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15]) / CLK_TCK
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += tree_cpu_seconds(int(child))
            except (FileNotFoundError, ProcessLookupError):
                pass  # ended meanwhile; then it counts in the parent's reaped children
    return total


def db_counters(mariadb, database: str) -> dict[str, int]:
    con = mariadb.root()
    with con.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_commit', 'Com_insert', 'Com_update', "
                    "'Bytes_received')")
        values = {name: int(value) for name, value in cur.fetchall()}
        cur.execute(f"SELECT COALESCE(SUM(version), 0) FROM `{database}`.session_snapshots")  # one per save
        values["snapshots_saved"] = int(cur.fetchone()[0])
    con.close()
    return values


def churn(sessions: Path, stop: threading.Event) -> None:
    """Every second, every session file changes (as a busy client's keys do), written atomically."""
    tick = 0
    while not stop.is_set():
        started = time.monotonic()
        tick += 1
        for path in sessions.glob("*.session"):
            keys = json.loads(path.read_text())
            keys["ratchet"] = f"{tick:08d}" * 64
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(keys))
            os.replace(tmp, path)
        stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


def measure(mariadb, helpers: str) -> dict:
    database = mariadb.new_database()
    with tempfile.TemporaryDirectory(prefix="wamulti-bench-") as tmp:
        env = {**mariadb.env(database), "SIM_PAIR_DELAY": "0.2", "LOG_LEVEL": "WARNING", "SNAPSHOT_HELPERS": helpers}
        server = ServerProcess(Path(tmp) / "data", env).start()
        stop = threading.Event()
        try:
            for i in range(CLIENTS):
                assert server.request("POST", "/api/clients",
                                      {"clientId": f"s{i:03d}", "phone": f"+4915100{i:05d}"}).status == 201
            server.wait_all_ready(CLIENTS, timeout=120)
            changer = threading.Thread(target=churn, args=(Path(tmp) / "data" / "sessions", stop))
            changer.start()
            time.sleep(SETTLE)
            db0, cpu0, t0 = db_counters(mariadb, database), tree_cpu_seconds(server.proc.pid), time.monotonic()
            time.sleep(WINDOW)
            db1, cpu1, t1 = db_counters(mariadb, database), tree_cpu_seconds(server.proc.pid), time.monotonic()
            lag = server.request("GET", "/healthz", key=None).json.get("snapshots")
        finally:
            stop.set()
            server.close()
    seconds = t1 - t0
    delta = {k: db1[k] - db0[k] for k in db0}
    return {"snapshot_helpers": helpers, "window_s": round(seconds, 1),
            "cpu_pct_of_one_core": round(100 * (cpu1 - cpu0) / seconds, 1),
            "snapshots_saved_per_s": round(delta["snapshots_saved"] / seconds, 1),
            "cpu_ms_per_snapshot": round(1000 * (cpu1 - cpu0) / max(1, delta["snapshots_saved"]), 1),
            "commits_per_snapshot": round(delta["Com_commit"] / max(1, delta["snapshots_saved"]), 3),
            "commits_per_s": round(delta["Com_commit"] / seconds, 1),
            "write_statements_per_s": round((delta["Com_insert"] + delta["Com_update"]) / seconds, 1),
            "db_mb_received_per_s": round(delta["Bytes_received"] / seconds / 1e6, 2),
            "healthz_snapshots": json.dumps(lag)}


def main() -> None:
    mariadb = start_mariadb()
    try:
        rows = {name: measure(mariadb, helpers) for name, helpers in MODES.items()}
    finally:
        mariadb.destroy()
    before, after = rows["before"], rows["after"]
    ratios = {key: round(after[key] / before[key], 3) if before[key] else None
              for key in ("cpu_pct_of_one_core", "snapshots_saved_per_s", "cpu_ms_per_snapshot", "commits_per_s",
                        "commits_per_snapshot", "write_statements_per_s")}
    report("snapshots", [{"mode": name, **row} for name, row in rows.items()],
           {"clients": CLIENTS, "after_over_before": ratios})


if __name__ == "__main__":
    sys.exit(main())
