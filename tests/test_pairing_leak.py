"""Abandoned pairings leak nothing: the real server on the neonize backend, each attempt dialling a
loopback listener that never answers, abandoned by DELETE, by a re-pair and by PAIRING_TIMEOUT.
The server's threads, descriptors and RSS after the cycles stay within 5 % of a reading taken after a
warm-up, and no pairing process is left. (bench/pairing_leak.py runs 50 cycles, and the old design.)
"""

from __future__ import annotations

import os
import time

import pytest

from tests.pairing_cycles import KINDS, cycles, fd_kinds, neonize_server, reading
from tests.silent_listener import SilentListener

if os.environ.get("HTTPS_PROXY") != "http://127.0.0.1:9":
    pytest.skip("run through ./scripts/test (the offline proxy)", allow_module_level=True)
pytest.importorskip("neonize")

CYCLES = 9  # three of each kind; the benchmark runs 50


def settled(pid: int, baseline, timeout: float = 15.0):
    """The reading once no pairing process is left and the threads are back (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        now = reading(pid)
        back = now.threads <= baseline.threads and now.fds <= baseline.fds
        if (now.children == 0 and back) or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def test_abandoned_pairings_leave_threads_descriptors_and_memory_where_they_were(tmp_path, mariadb):
    silent = SilentListener()
    server = neonize_server(tmp_path / "data", silent, mariadb.env(mariadb.new_database())).start()
    try:
        cycles(server, silent, len(KINDS), prefix="warm")
        before = settled(server.proc.pid, reading(server.proc.pid))
        kinds_before = fd_kinds(server.proc.pid)
        cycles(server, silent, CYCLES)
        after = settled(server.proc.pid, before)
        kinds_after = fd_kinds(server.proc.pid)
        print(f"\nbefore {before}\nafter  {after} ({CYCLES} cycles, {silent.accepted} dials)")
        assert after.children == 0, "a pairing process outlived its attempt"
        # +-5 %; with ~12 descriptors that is below one, and one socket (a pooled database connection
        # or an HTTP connection still closing) sometimes differs: one descriptor is allowed, not a trend
        allowed = {"threads": 0.05 * before.threads, "fds": max(1, 0.05 * before.fds), "rss_mb": 0.05 * before.rss_mb}
        for name, limit in allowed.items():
            assert abs(getattr(after, name) - getattr(before, name)) <= limit, (name, before, after,
                                                                                 kinds_before, kinds_after)
        assert server.clients() == []
    finally:
        server.close()
        silent.close()
