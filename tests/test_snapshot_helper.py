"""The long-lived snapshot helpers: consistent reads of live SQLite files (WAL included), unchanged
contents not shipped, a helper that dies or hangs replaced, and the process-per-snapshot fallback."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import zlib

import pytest

from wamulti.sessions import session_file, snapshot_helpers
from wamulti.sessions.snapshot_helpers import HelperFailed, HelperPool


@pytest.fixture
def pool():
    p = HelperPool(1)
    yield p
    p.close()


def wal_database(path):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")  # keep changes in the -wal, as a busy writer would
    con.execute("CREATE TABLE keys (n INTEGER, v BLOB)")
    return con


def rows_of(data: bytes, tmp_path) -> list:
    """The rows of a copy, restored to a file as the worker would (a WAL-mode copy needs a file)."""
    restored = tmp_path / "restored.session"
    session_file.restore_snapshot(restored, data)
    copy = sqlite3.connect(restored)
    try:
        return copy.execute("SELECT n FROM keys ORDER BY n").fetchall()
    finally:
        copy.close()


def test_a_change_only_in_the_wal_is_detected_and_copied(tmp_path, pool):
    path = tmp_path / "a.session"
    con = wal_database(path)
    con.execute("INSERT INTO keys VALUES (1, x'00')")
    before, main_before = session_file.file_signature(path), os.stat(path).st_mtime_ns
    con.execute("INSERT INTO keys VALUES (2, x'01')")
    assert os.stat(path).st_mtime_ns == main_before, "the main file did not change"
    assert session_file.file_signature(path) != before, "the -wal did, and the signature sees it"
    sha, data = pool.read(path)
    assert rows_of(data, tmp_path) == [(1,), (2,)]
    assert pool.read(path, known_sha=sha) == (sha, None), "unchanged contents are not sent again"
    con.close()


def test_a_plain_file_is_read_as_it_is(tmp_path, pool):
    path = tmp_path / "sim.session"
    path.write_bytes(b'{"jid": "1@s.whatsapp.net"}')
    sha, data = pool.read(path)
    assert zlib.decompress(data) == path.read_bytes() and sha == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_error_is_reported_and_the_helper_goes_on(tmp_path, pool):
    with pytest.raises(HelperFailed, match="FileNotFoundError"):
        pool.read(tmp_path / "missing.session")
    pid = pool.helpers[0].pid
    (tmp_path / "b").write_bytes(b"x")
    assert pool.read(tmp_path / "b")[1] is not None and pool.helpers[0].pid == pid


def test_a_dead_helper_is_replaced(tmp_path, pool):
    (tmp_path / "b").write_bytes(b"x")
    pool.read(tmp_path / "b")
    first = pool.helpers[0].pid
    os.kill(first, 9)
    deadline = time.monotonic() + 10
    while pool.helpers[0].pid is not None and time.monotonic() < deadline:
        time.sleep(0.01)  # until the kernel has ended it: a read sent before then fails (tested below)
    assert pool.helpers[0].pid is None
    assert pool.read(tmp_path / "b")[1] is not None, "the next read starts a new helper"
    assert pool.helpers[0].pid not in (None, first)


def test_a_helper_that_dies_while_a_read_waits_fails_that_read_and_the_next_gets_a_new_one(tmp_path, pool):
    fifo = tmp_path / "stuck.session"
    os.mkfifo(fifo)  # the helper blocks opening it, so the read is still waiting when the helper dies
    (tmp_path / "b").write_bytes(b"x")
    pool.read(tmp_path / "b")
    first = pool.helpers[0].pid
    threading.Timer(0.3, os.kill, (first, 9)).start()
    with pytest.raises(HelperFailed):
        pool.read(fifo, timeout=10)
    assert pool.read(tmp_path / "b")[1] is not None
    assert pool.helpers[0].pid not in (None, first)


def test_a_hanging_read_times_out_and_the_helper_is_killed(tmp_path, pool):
    fifo = tmp_path / "stuck.session"
    os.mkfifo(fifo)  # opening it blocks until a writer comes: a read that never ends
    with pytest.raises(HelperFailed, match="did not answer"):
        pool.read(fifo, timeout=0.5)
    (tmp_path / "b").write_bytes(b"x")
    assert pool.read(tmp_path / "b")[1] is not None


def test_with_no_helpers_a_child_process_reads_each_snapshot(tmp_path):
    path = tmp_path / "c.session"
    con = wal_database(path)
    con.execute("INSERT INTO keys VALUES (7, x'07')")
    snapshot_helpers.configure(0)
    try:
        assert snapshot_helpers.shared_pool() is None
        snap = session_file.read_snapshot(path)
        assert rows_of(snap.data, tmp_path) == [(7,)]
        assert session_file.read_snapshot(path, known_sha=snap.sha256).data is None
    finally:
        snapshot_helpers.configure(snapshot_helpers.DEFAULT_HELPERS)
    assert rows_of(session_file.read_snapshot(path).data, tmp_path) == [(7,)]
    con.close()
