"""Group commit for the embedded store: one writer thread runs every write of the process on one
connection, many writes per transaction.

Why a thread and not a lock: SQLite gives up the GIL inside every statement, so a write that held a
process-wide lock across its statements also held it across each wait to get the GIL back. Under
load (bench.sends) three quarters of a write's time under the lock was such waiting, and the
writers queued behind the lock, not the cores, bounded the API. Here a write hands its work to the
`sqlite-writer` thread and waits. The thread takes everything queued, runs it in one transaction
(each write in a savepoint, so a write whose own code raises is undone alone), commits once, then
wakes the writers: a write still returns only once committed (durability unchanged).

Writes of one kind that arrive together may also share their statements (a `Combiner`: every
accepted send of the batch in one INSERT). And the writer's own connection keeps the GIL through its
statements where the library allows (sqlite_held.py): alone, the thread still waited ~0.5 ms for the
GIL after each statement. A failed COMMIT (disk, I/O) fails every write of the batch with BatchFailed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from ..batches import BatchThread

MAX_BATCH = 100  # writes per transaction: a steady stream still commits every MAX_BATCH writes
COMMIT_WAIT = 120.0  # seconds a write waits for its batch's commit (a commit takes milliseconds)
IDLE_EXIT = 30.0  # seconds without writes before the writer thread ends (the next write starts it)
CHECKPOINT_EVERY = 1.0  # seconds between WAL checkpoints while writes go on

Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchFailed(Exception):
    """The transaction that held a write could not be committed; the write is not stored."""

    def __init__(self, cause: sqlite3.Error):
        super().__init__(str(cause))
        self.cause = cause


class Combiner(Protocol[Item, Result]):
    """Runs many writes of one kind in as few statements as it can. Its statements are safe to run
    twice (a retry redoes nothing twice), so it needs no savepoint: two statements fewer."""

    def many(self, con: sqlite3.Connection, items: list[Item]) -> list[Result | Exception]:
        """Each item's result, or the exception to raise to its writer (then it wrote nothing).
        Raising instead: each item is tried again on its own."""


class _Job(Generic[Result]):
    """One write: its work (or its combiner's item), and how it ended once `done` is released."""

    __slots__ = ("work", "savepoint", "combiner", "item", "result", "error", "done")

    def __init__(self, work: Callable[[sqlite3.Connection], Result] | None, savepoint: bool = True,
                 combiner: Combiner | None = None, item: Any = None):
        self.work, self.savepoint, self.combiner, self.item = work, savepoint, combiner, item
        self.result: Result | None = None
        self.error: BaseException | None = None  # its own failure (the writer thread sets it)
        self.done = threading.Lock()  # held until the job ends (a C lock: cheaper than an Event)
        self.done.acquire()

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.done.release()

    def outcome(self) -> Result:
        if not self.done.acquire(timeout=COMMIT_WAIT):
            raise BatchFailed(sqlite3.OperationalError("commit not seen in time"))
        if self.error is not None:
            raise self.error
        return self.result


class _Aborted(Exception):
    """The transaction is lost (SQLite rolled it back, or undoing a write failed)."""

    def __init__(self, cause: sqlite3.Error):
        self.cause = cause


class GroupCommit:
    """The write connection, owned by the writer thread; any thread may run() work on it."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], max_batch: int = MAX_BATCH,
                 checkpoint: Callable[[], None] | None = None):
        """checkpoint: called on the writer thread after a commit, at most every CHECKPOINT_EVERY
        seconds (to start a checkpoint elsewhere, for a connection that does not checkpoint itself)."""
        self._connect = connect
        self._checkpoint = checkpoint
        self._next_checkpoint = 0.0
        self._con: sqlite3.Connection | None = None
        self._writer = BatchThread("sqlite-writer", self._run_batch, max_batch=max_batch, idle_exit=IDLE_EXIT)
        self.commits = 0  # transactions committed (tests, benchmarks)

    def run(self, work: Callable[[sqlite3.Connection], Result], savepoint: bool = True) -> Result:
        """work(connection) on the writer thread, inside a savepoint; returns its result once committed.
        Raises the work's own exception, sqlite3.Error if the connection failed, BatchFailed if the commit
        did. savepoint=False: the work runs one statement (or none) and raises nothing after it, so on
        error it has changed nothing (SQLite undoes a failed statement): two statements saved."""
        job = _Job(work, savepoint)
        self._writer.put(job)
        return job.outcome()

    def combined(self, combiner: Combiner[Item, Result], item: Item) -> Result:
        """Like run(), for a write the combiner runs together with others of its kind."""
        job = _Job(None, combiner=combiner, item=item)
        self._writer.put(job)
        return job.outcome()

    def close(self) -> None:
        """Close the write connection (the store makes sure no write is queued or under way)."""
        con, self._con = self._con, None
        if con is not None:
            con.close()

    # ---- the writer thread ---------------------------------------------------------------------
    def _run_batch(self, jobs: list[_Job]) -> None:
        """Every job of the batch ends here, at once, after the connection's last use for the batch:
        a writer that returns may let the store close the connection."""
        try:
            error = self._write_batch(jobs)
        except Exception as exc:  # a bug here must not leave writers waiting, nor end the thread
            self._rollback(self._con)
            error = BatchFailed(sqlite3.OperationalError(f"writer failed: {type(exc).__name__}"))
        for job in jobs:
            job.finish(job.error or error)

    def _write_batch(self, jobs: list[_Job]) -> BatchFailed | None:
        """Run the jobs in one transaction; the error that fails the jobs which kept their changes."""
        try:
            con = self._con = self._con or self._connect()
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return BatchFailed(exc)
        kept = False  # a job's changes are in the transaction
        try:
            for group in _groups(jobs):
                kept = self._apply(con, group, fresh=not kept) or kept
        except _Aborted as lost:
            self._rollback(con)
            return BatchFailed(lost.cause)
        try:
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(con)
            return BatchFailed(exc)
        self.commits += 1
        if self._checkpoint is not None and time.monotonic() >= self._next_checkpoint:
            self._next_checkpoint = time.monotonic() + CHECKPOINT_EVERY
            self._checkpoint()
        return None

    def _apply(self, con: sqlite3.Connection, group: list[_Job], fresh: bool) -> bool:
        """Run one plain job, or a combiner's jobs (a job that fails gets its `error`); True if any kept
        its changes. `fresh`: nothing is in the transaction yet, so undoing needs no savepoint."""
        first = group[0]
        savepoint = not fresh and first.combiner is None and first.savepoint
        try:
            if savepoint:
                con.execute("SAVEPOINT write")
            results = first.combiner.many(con, [j.item for j in group]) if first.combiner else [first.work(con)]
            if savepoint:
                con.execute("RELEASE write")
        except Exception as exc:
            self._undo(con, savepoint, fresh)
            if len(group) == 1:
                first.error = exc
                return False
            kept = False  # one of them failed the shared statements: each on its own
            for job in group:
                kept = self._apply(con, [job], fresh and not kept) or kept
            return kept
        for job, result in zip(group, results):
            if job.combiner is not None and isinstance(result, Exception):
                job.error = result
            else:
                job.result = result
        return any(job.error is None for job in group)

    def _undo(self, con: sqlite3.Connection, savepoint: bool, fresh: bool) -> None:
        try:
            if savepoint:
                con.execute("ROLLBACK TO write")
                con.execute("RELEASE write")
            elif fresh:  # nothing else in the transaction: begin it again, clean
                if con.in_transaction:
                    con.execute("ROLLBACK")
                con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _Aborted(exc) from None
        if not con.in_transaction:  # SQLite rolled the whole transaction back (I/O error, disk full)
            raise _Aborted(sqlite3.OperationalError("transaction rolled back"))

    @staticmethod
    def _rollback(con: sqlite3.Connection | None) -> None:
        try:
            if con is not None and con.in_transaction:
                con.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _groups(jobs: list[_Job]) -> list[list[_Job]]:
    """Plain jobs one by one, then each combiner's jobs together (all of them were queued at once,
    so their order among each other is nobody's promise)."""
    plain, combined = [], {}
    for job in jobs:
        if job.combiner is None:
            plain.append([job])
        else:
            combined.setdefault(job.combiner, []).append(job)
    return plain + list(combined.values())
