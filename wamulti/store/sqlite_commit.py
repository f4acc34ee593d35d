"""Group commit for the embedded store: every write of the process on one connection, many per transaction.

SQLite lets one transaction write at a time; threads that each BEGIN IMMEDIATE on their own
connection meet at the file lock and wait in SQLite's sleeping busy handler (1, 2, 5 ... 100 ms),
so under load most of their time is sleep. Here a write takes a process lock instead (woken at
once when free) and runs in the transaction that is open on the one write connection (beginning it,
or joining it in a SAVEPOINT). The thread that finds nobody else waiting commits, for itself and every write that
joined the transaction before it; the others wait for that commit. So N writes arriving together
cost one commit, and a write still returns only once it is committed (durability unchanged).

A write whose own code raises is rolled back to its savepoint and raises at once; the rest of the
batch goes on. A write that changes the database in one statement at most, and raises only when
nothing was changed, may go without the savepoint (two statements fewer): SQLite undoes a failed
statement by itself. A failed COMMIT (disk, I/O) fails every write of the batch with the error.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_BATCH = 100  # writes per transaction: a steady stream still commits every MAX_BATCH writes
COMMIT_WAIT = 120.0  # seconds a write waits for its batch's commit (a commit takes milliseconds)


class BatchFailed(Exception):
    """The transaction that held a write could not be committed; the write is not stored."""

    def __init__(self, cause: sqlite3.Error):
        super().__init__(str(cause))
        self.cause = cause


class _Batch:
    """Its writes wait on `done`, held until the batch ends: each waiter takes it and hands it on at
    once (a C lock, cheaper than an Event's condition when a dozen writes share a commit)."""

    __slots__ = ("size", "done", "error")

    def __init__(self):
        self.size = 0
        self.done = threading.Lock()
        self.done.acquire()
        self.error: sqlite3.Error | None = None

    def finish(self, error: sqlite3.Error | None = None) -> None:
        self.error = error
        self.done.release()

    def wait(self, timeout: float) -> bool:
        if not self.done.acquire(timeout=timeout):
            return False
        self.done.release()  # the next waiter's turn
        return True


class GroupCommit:
    """The write connection and its open transaction; any thread may write()."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], max_batch: int = MAX_BATCH):
        self._connect = connect
        self._max_batch = max_batch
        self._lock = threading.Lock()  # the write connection and the open batch
        # one item per thread waiting for _lock (deque append/pop are atomic: no lock of its own);
        # the open batch is left to the last of them to commit
        self._waiting: deque[None] = deque()
        self._con: sqlite3.Connection | None = None
        self._batch: _Batch | None = None
        self.commits = 0  # transactions committed (tests, benchmarks)

    @contextmanager
    def write(self, savepoint: bool = True) -> Iterator[sqlite3.Connection]:
        """The write connection inside a savepoint; returns once committed. Raises the block's own
        exception, sqlite3.Error if the connection failed, BatchFailed if the commit did.
        savepoint=False: the block changes the database in one statement at most and raises only when
        nothing was changed (that statement failed, and SQLite undid it, or changed no row, as a full
        queue's insert does before the count that names the depth): two statements saved."""
        self._waiting.append(None)
        with self._lock:
            self._waiting.pop()
            batch, first = self._join(savepoint)
            con = self._con
            try:
                yield con
            except BaseException:
                self._undo(con, batch, first, savepoint)
                raise
            self._release(con, batch, first, savepoint)
        if not batch.wait(COMMIT_WAIT):
            raise BatchFailed(sqlite3.OperationalError("commit not seen in time"))
        if batch.error is not None:
            raise BatchFailed(batch.error)

    def close(self) -> None:
        """Close the write connection (the store makes sure no write is under way)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _join(self, savepoint: bool) -> tuple[_Batch, bool]:
        """Under _lock: the open batch (begun if none) and whether this write begins it; a write that
        joins a batch gets a savepoint (the first needs none: undoing it undoes the transaction)."""
        if self._con is None:
            self._con = self._connect()
        first = self._batch is None
        try:
            if first:
                self._con.execute("BEGIN IMMEDIATE")
                self._batch = _Batch()
            elif savepoint:
                self._con.execute("SAVEPOINT write")
        except sqlite3.Error as exc:
            self._abort(exc)
            raise
        return self._batch, first

    def _undo(self, con: sqlite3.Connection, batch: _Batch, first: bool, savepoint: bool) -> None:
        """Under _lock: the block raised; its writes are undone, the batch goes on (or ends here)."""
        if first:  # alone in its transaction (nobody joins while it holds the lock): end it
            self._abort(None)
            return
        try:
            if savepoint:
                con.execute("ROLLBACK TO write")
                con.execute("RELEASE write")
        except sqlite3.Error as exc:
            self._abort(exc)
            return
        if not con.in_transaction:  # SQLite rolled the whole transaction back (I/O error, disk full)
            self._abort(sqlite3.OperationalError("transaction rolled back"))
            return
        self._commit_if_last(batch)

    def _release(self, con: sqlite3.Connection, batch: _Batch, first: bool, savepoint: bool) -> None:
        try:
            if savepoint and not first:
                con.execute("RELEASE write")
        except sqlite3.Error as exc:
            self._abort(exc)
            return
        batch.size += 1
        self._commit_if_last(batch)

    def _commit_if_last(self, batch: _Batch) -> None:
        """Under _lock: commit unless another write waits to join (then the last one commits)."""
        if self._waiting and batch.size < self._max_batch:
            return
        try:
            self._con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._abort(exc)
            return
        self.commits += 1
        self._batch = None
        batch.finish()

    def _abort(self, error: sqlite3.Error | None) -> None:
        """Under _lock: the open batch is rolled back; every write in it fails with `error`."""
        batch, self._batch = self._batch, None
        if self._con is not None and self._con.in_transaction:
            try:
                self._con.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        if batch is not None:
            batch.finish(error)
