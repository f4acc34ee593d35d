"""The embedded store's write connection that keeps the GIL (store/sqlite_held.py): the stdlib's
types, results and exception classes; a BEGIN that finds another connection writing waits without
the GIL; and since it never checkpoints by itself, the store's checkpoints keep the WAL bounded."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest

from wamulti.config import Settings
from wamulti.store import open_store
from wamulti.store.base import ClientRecord
from wamulti.store.sqlite_held import HeldConnection, open_held


@pytest.fixture
def held(tmp_path):
    con = open_held(str(tmp_path / "x.db"))
    assert con is not None, "the stdlib's SQLite library is not reachable through ctypes here"
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB, score REAL)")
    yield con
    con.close()


def test_values_results_and_errors_are_the_stdlib_modules(held):
    held.execute("BEGIN IMMEDIATE")
    assert held.in_transaction
    cur = held.execute("INSERT INTO t (name, data, score) VALUES (?, ?, ?), (?, ?, ?)",
                       ("één 👋", b"\x00\x01", 1.5, None, sqlite3.Binary(b"zz"), None))
    assert (cur.rowcount, cur.lastrowid) == (2, 2)
    held.execute("COMMIT")
    assert not held.in_transaction
    assert held.execute("SELECT id, name, data, score FROM t ORDER BY id").fetchall() == [
        (1, "één 👋", b"\x00\x01", 1.5), (2, None, b"zz", None)]
    assert held.execute("SELECT COUNT(*) FROM t").fetchone() == (2,)
    with pytest.raises(sqlite3.IntegrityError):
        held.execute("INSERT INTO t (name) VALUES (?)", ("één 👋",))
    with pytest.raises(sqlite3.OperationalError):
        held.execute("SELEC 1")
    with pytest.raises(sqlite3.ProgrammingError):
        held.execute("INSERT INTO t (name) VALUES (?)", (object(),))
    assert held.executemany("INSERT INTO t (name) VALUES (?)", [("a",), ("b",)]).rowcount == 2


def test_a_begin_waits_for_another_writer_without_holding_the_gil(held, tmp_path):
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    began = threading.Event()
    ticks = [0]

    def begin():
        held.execute("BEGIN IMMEDIATE")
        began.set()

    thread = threading.Thread(target=begin)
    thread.start()
    deadline = time.monotonic() + 0.4
    while time.monotonic() < deadline:  # this thread runs while the other one waits for the lock
        ticks[0] += 1
        time.sleep(0.001)
    assert not began.is_set(), "BEGIN went ahead while another connection held the write lock"
    assert ticks[0] > 50, "the waiting BEGIN kept the GIL"
    other.execute("COMMIT")
    assert began.wait(5)
    held.execute("COMMIT")
    thread.join()
    other.close()


def test_the_stores_checkpoints_keep_the_wal_bounded(tmp_path):
    store = open_store(Settings(api_key="t" * 16, data_dir=tmp_path / "data"))
    store.create_client(ClientRecord("alice", "READY"))
    assert isinstance(store._writes._con, HeldConnection)
    wal = str(store.path) + "-wal"
    data = os.urandom(200_000)  # incompressible: each snapshot writes ~50 pages
    for n in range(30):  # 6 MB over ~3 s: a checkpoint a second lets the WAL start over
        store.save_snapshot("alice", data[n:] + data[:n], f"{n:064d}")
        time.sleep(0.1)
    size = os.path.getsize(wal)
    store.close()
    assert size < 3_000_000, f"the WAL grew to {size} bytes: no checkpoint ran"
