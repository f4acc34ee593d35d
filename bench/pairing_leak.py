"""50 abandoned pairings against a loopback endpoint that accepts and never answers: the server's
threads, descriptors, RSS and leftover processes before and after, for this tree (pairing in a child
process) and, in the same run, for an older tree (pairing in-process; default: the commit before
the pairing child, `git archive` into a temporary directory).

    .venv/bin/python -m bench.pairing_leak [--cycles 50] [--old <commit>|none]

The new tree cycles DELETE, re-pair and PAIRING_TIMEOUT (4 s: a loaded machine may take 2 s to
start a pairing process and dial); the old one only DELETE and re-pair (its timeout started only
once a code was shown, which never happens against a silent endpoint),
and fewer of them (--old-cycles, default 4): there a stop() during a hanging dial holds the
process-wide Go lock for ~55 s, so each next attempt waits that long before it can dial.
Both use MariaDB (the embedded SQLite store keeps a connection per thread that ever used it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, report, start_mariadb
from tests import pairing_cycles
from tests.pairing_cycles import KINDS, cycles, fd_kinds, neonize_server, reading
from tests.silent_listener import SilentListener

OLD_DEFAULT = "dd97136"  # the last commit with in-process pairing
SETTLE = 15.0  # seconds the old tree is given to release what it can


def measure(label: str, root: Path | None, kinds, count: int, db, tmp: Path) -> dict:
    silent = SilentListener()
    server = neonize_server(tmp / label / "data", silent, db.env(db.new_database()), root=root).start()
    try:
        pid = server.proc.pid
        cycles(server, silent, len(kinds), kinds, prefix="warm")
        time.sleep(2)
        before, kinds_before = reading(pid), fd_kinds(pid)
        started = time.monotonic()
        try:
            cycles(server, silent, count, kinds)
        except AssertionError:
            print(server.log()[-3000:], file=sys.stderr)  # what the server said, for the failure
            raise
        took = time.monotonic() - started
        time.sleep(SETTLE)
        after, kinds_after = reading(pid), fd_kinds(pid)
    finally:
        server.close()
        silent.close()
    change = {name: round(100 * (getattr(after, name) - getattr(before, name)) / getattr(before, name), 1)
              for name in ("threads", "fds", "rss_mb")}
    return {"tree": label, "cycles": count, "kinds": "/".join(kinds), "seconds": round(took, 1),
            "threads": f"{before.threads} -> {after.threads}", "fds": f"{before.fds} -> {after.fds}",
            "rss_mb": f"{before.rss_mb} -> {after.rss_mb}", "children_left": after.children,
            "fds_changed": {k: kinds_after.get(k, 0) - kinds_before.get(k, 0) for k in {*kinds_before, *kinds_after}
                            if kinds_after.get(k, 0) != kinds_before.get(k, 0)},
            "change_%": change}


def export(commit: str, into: Path) -> Path:
    """The old tree's files (no checkout, no worktree): git archive | tar."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--old", default=OLD_DEFAULT, help="commit of the in-process design, or 'none'")
    parser.add_argument("--old-cycles", type=int, default=4)
    args = parser.parse_args()
    os.environ.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")  # this process never dials
    db = start_mariadb()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="pairing-leak-") as tmp:
            tmp = Path(tmp)
            rows.append(measure("this tree", None, KINDS, args.cycles, db, tmp))
            print(rows[-1], flush=True)
            if args.old != "none":
                old = export(args.old, tmp / "old-tree")
                pairing_cycles.DIAL_WAIT = 150.0
                rows.append(measure(f"old {args.old}", old, KINDS[:2], args.old_cycles, db, tmp))
    finally:
        db.destroy()
    report("pairing_leak", rows, {"target": "this tree within +-5 % on threads, fds and RSS, no process left",
                                  "python": sys.version.split()[0]})


if __name__ == "__main__":
    main()
