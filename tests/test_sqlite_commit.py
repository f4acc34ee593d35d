"""The embedded store's group commit and read pool: concurrent writes share commits and are each
committed when they return, a write that fails leaves the others of its batch alone, a failed
commit fails every write in it, and descriptors stay bounded however many threads used the store."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

import pytest

from wamulti.config import Settings
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord, DuplicateClient, StoreUnavailable
from wamulti.store.sqlite_commit import BatchFailed, GroupCommit


@pytest.fixture
def sqlite(tmp_path):
    store = open_store(Settings(api_key="t" * 16, data_dir=tmp_path / "data"))
    yield store
    store.close()


def other_connection(store) -> sqlite3.Connection:
    return sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)


def test_concurrent_writes_share_commits_and_each_is_committed_when_it_returns(sqlite):
    reader = other_connection(sqlite)
    seen_at_return: list[bool] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        sqlite.create_client(ClientRecord(f"c{n:03d}", "CONNECTING"))
        found = reader_lookup(f"c{n:03d}")
        with lock:
            seen_at_return.append(found)

    def reader_lookup(client_id: str) -> bool:  # another connection: sees only committed rows
        with lock:
            return reader.execute("SELECT 1 FROM clients WHERE client_id = ?", (client_id,)).fetchone() is not None

    before = sqlite.commits
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, range(400)))
    assert len(seen_at_return) == 400 and all(seen_at_return), "a write returned before its commit"
    assert len(sqlite.list_clients()) == 400
    commits = sqlite.commits - before
    assert 1 <= commits < 400, f"{commits} commits for 400 concurrent writes: none were shared"
    reader.close()


def test_a_write_that_fails_undoes_only_itself(sqlite):
    sqlite.create_client(ClientRecord("taken", "READY"))
    barrier = threading.Barrier(12)

    def create(name: str):
        barrier.wait()
        try:
            sqlite.create_client(ClientRecord(name, "READY"))
            return "ok"
        except DuplicateClient:
            return "duplicate"

    names = ["taken"] * 4 + [f"new{n}" for n in range(8)]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(create, names))
    assert results == ["duplicate"] * 4 + ["ok"] * 8
    assert sorted(r.client_id for r in sqlite.list_clients()) == sorted({*names})


class FailingCommit:
    """A test double of a connection whose COMMIT fails (a full disk); everything else is real."""

    def __init__(self, con: sqlite3.Connection):
        self._con = con

    def execute(self, sql, *args):
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_a_failed_commit_fails_every_write_of_its_batch_and_keeps_none(tmp_path):
    path = tmp_path / "x.db"
    plain = sqlite3.connect(path, isolation_level=None)
    plain.execute("CREATE TABLE t (v INTEGER)")
    group = GroupCommit(lambda: FailingCommit(sqlite3.connect(path, isolation_level=None, check_same_thread=False)))
    with pytest.raises(BatchFailed):
        with group.write() as con:
            con.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(BatchFailed):
        with group.write() as con:  # the connection is usable again: a new batch, failing the same way
            con.execute("INSERT INTO t VALUES (2)")
    assert plain.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
    group.close()
    plain.close()


def test_the_store_reports_a_failed_commit_as_unavailable(sqlite, monkeypatch):
    real_connect = sqlite._writes._connect
    sqlite._writes.close()
    monkeypatch.setattr(sqlite._writes, "_connect", lambda: FailingCommit(real_connect()))
    with pytest.raises(StoreUnavailable):
        sqlite.create_client(ClientRecord("lost", "READY"))
    assert sqlite.get_client("lost") is None


def descriptors(under: Path) -> int:
    """This process's open descriptors on files below `under` (what other tests' threads in this
    worker open and close meanwhile does not count)."""
    return sum(1 for n in os.listdir("/proc/self/fd") if _target(n).startswith(str(under)))


def _target(fd_name: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd_name}")
    except OSError:  # closed meanwhile
        return ""


def test_descriptors_stay_bounded_over_many_threads_using_the_store(sqlite, tmp_path):
    sqlite.create_client(ClientRecord("c", "READY"))

    def one_run(n: int) -> None:  # what a worker run does: its own thread, reads and writes, then ends
        sqlite.get_client("c")
        sqlite.save_client(ClientRecord("c", "READY", last_error=f"run {n}"))
        sqlite.list_clients()

    def runs(count: int) -> None:
        for n in range(count):
            threads = [threading.Thread(target=one_run, args=(n * 4 + i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    runs(10)  # the pool and the write connection are open now
    with contextlib.ExitStack() as readers:  # as many readers at once as the runs can use (else the
        for _ in range(4):                   # pool grows to that later, as the threads interleave)
            readers.enter_context(sqlite._readers.borrowed())
    settled = descriptors(tmp_path)  # the store's database files
    assert settled >= 2, "the store's own descriptors are counted"
    runs(150)  # 600 more threads
    after = descriptors(tmp_path)
    assert after <= settled + 2, f"descriptors grew from {settled} to {after} over 600 threads"
    assert sqlite._readers.idle() <= 8


def test_a_one_statement_write_without_savepoint_fails_alone_and_commits_the_rest(tmp_path):
    path = tmp_path / "x.db"
    plain = sqlite3.connect(path, isolation_level=None)
    plain.execute("CREATE TABLE t (v INTEGER PRIMARY KEY)")
    group = GroupCommit(lambda: sqlite3.connect(path, isolation_level=None, check_same_thread=False))
    barrier = threading.Barrier(12)

    def insert(v: int) -> str:
        barrier.wait()
        try:
            with group.write(savepoint=False) as con:
                con.execute("INSERT INTO t VALUES (?)", (v,))
            return "ok"
        except sqlite3.IntegrityError:
            return "duplicate"

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(insert, [1] * 4 + list(range(2, 10))))
    assert sorted(results) == ["duplicate"] * 3 + ["ok"] * 9
    assert [r[0] for r in plain.execute("SELECT v FROM t ORDER BY v")] == list(range(1, 10))
    group.close()
    plain.close()
