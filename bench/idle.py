"""Idle cost: 200 READY simulator clients whose session files do not change, on MariaDB, for a minute:
bytes written to the database and the server's CPU use.

    python -m bench.idle              # target: no snapshot writes at all, under 2 % of one core
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import ServerProcess, cpu_seconds, report, start_mariadb

CLIENTS = 200
MINUTE = 60.0
SETTLE = 10.0


def db_counters(mariadb) -> dict[str, int]:
    con = mariadb.root()
    with con.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN "
                    "('Bytes_received', 'Com_insert', 'Com_update', 'Com_delete', 'Innodb_data_written')")
        values = {name: int(value) for name, value in cur.fetchall()}
    con.close()
    return values


def main() -> None:
    mariadb = start_mariadb()
    try:
        database = mariadb.new_database()
        with tempfile.TemporaryDirectory(prefix="wamulti-bench-") as tmp:
            server = ServerProcess(Path(tmp) / "data", {**mariadb.env(database), "SIM_PAIR_DELAY": "0.2",
                                                        "LOG_LEVEL": "WARNING"}).start()
            try:
                for i in range(CLIENTS):
                    assert server.request("POST", "/api/clients",
                                          {"clientId": f"i{i:03d}", "phone": f"+4915100{i:05d}"}).status == 201
                server.wait_all_ready(CLIENTS, timeout=120)
                time.sleep(SETTLE)  # pairing snapshots done; from here on nothing changes
                before, cpu0, t0 = db_counters(mariadb), cpu_seconds(server.proc.pid), time.monotonic()
                time.sleep(MINUTE)  # the measurement window
                after, cpu1, t1 = db_counters(mariadb), cpu_seconds(server.proc.pid), time.monotonic()
            finally:
                server.close()
    finally:
        mariadb.destroy()
    delta = {k: after[k] - before[k] for k in before}
    cpu_pct = 100 * (cpu1 - cpu0) / (t1 - t0)
    writes = delta["Com_insert"] + delta["Com_update"] + delta["Com_delete"]
    rows = [{"clients": CLIENTS, "window_s": round(t1 - t0, 1), "db_bytes_received": delta["Bytes_received"],
             "db_write_statements": writes, "innodb_bytes_written": delta["Innodb_data_written"],
             "cpu_pct_of_one_core": round(cpu_pct, 2)}]
    report("idle", rows, {"target": "no snapshot writes, < 2 % of one core", "met": writes == 0 and cpu_pct < 2})


if __name__ == "__main__":
    main()
