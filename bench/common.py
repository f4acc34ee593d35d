"""Shared pieces of the benchmarks: servers, MariaDB, process readings, result tables."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.mariadb import MariaDB  # noqa: E402  (the same throwaway server the tests use)
from tests.server_process import ServerProcess  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")

__all__ = ["MariaDB", "ServerProcess", "rss_mb", "cpu_seconds", "start_mariadb", "report"]


def rss_mb(pid: int) -> float:
    """Resident set size of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_mariadb() -> MariaDB:
    server = MariaDB()
    if server.mariadbd is None:
        sys.exit("mariadbd is not installed: run ./scripts/test once (it installs mariadb-server)")
    server.install()
    server.start()
    server.setup_user()
    return server


def report(name: str, rows: list[dict], notes: dict) -> None:
    """Print a small table and write bench/results/<name>.json."""
    if rows:
        cols = list(rows[0])
        widths = [max(len(c), *(len(f"{r[c]}") for r in rows)) for c in cols]
        print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
        for r in rows:
            print("  ".join(f"{r[c]}".ljust(w) for c, w in zip(cols, widths)))
    for key, value in notes.items():
        print(f"{key}: {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps({"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": rows,
                               **notes}, indent=2))
    print(f"written {out.relative_to(ROOT)}")
