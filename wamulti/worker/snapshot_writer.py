"""SnapshotWriter: the snapshots of many clients written together, several per transaction.

Each worker thread hands its snapshot over and waits for the transaction that carries it (group
commit): the first write of a batch waits up to BATCH_WINDOW for others, so hundreds of busy
clients cost a few transactions a second instead of one each. A worker keeps its delete guard
(worker/persistence.py) held while it waits, so a delete still never overtakes a write in flight.
One writer per store, made on first use; its thread ends when idle and starts again on demand.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref

from ..store.base import SessionStore, SnapshotWrite, StoreError, StoreUnavailable

BATCH_WINDOW = 0.1  # seconds the first write of a batch waits for more
MAX_BATCH = 200
WAIT_LIMIT = 120.0  # seconds a worker waits for its batch (the store's own timeouts come first)
IDLE_EXIT = 30.0  # seconds without writes before the thread ends


class _Pending:
    __slots__ = ("write", "done", "stored", "error")

    def __init__(self, write: SnapshotWrite):
        self.write = write
        self.done = threading.Event()
        self.stored = False
        self.error: StoreError | None = None


class SnapshotWriter:
    """Group commit of snapshot writes for one store."""

    def __init__(self, store: SessionStore, window: float = BATCH_WINDOW):
        self._store = store
        self._window = window
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._lock = threading.Lock()  # _thread and the decision to end it
        self._thread: threading.Thread | None = None
        self.transactions = 0  # batches written (for tests and benchmarks)

    def save(self, write: SnapshotWrite) -> bool:
        """Write one snapshot with whatever else is due; True if stored, False if the store holds a
        newer generation. Raises StoreError as the store would."""
        pending = _Pending(write)
        with self._lock:
            self._queue.put(pending)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="snapshot-writer", daemon=True)
                self._thread.start()
        if not pending.done.wait(WAIT_LIMIT):
            raise StoreUnavailable(f"snapshot not written within {WAIT_LIMIT:g}s")
        if pending.error is not None:
            raise pending.error
        return pending.stored

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_EXIT)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            self._write(self._gather(first))

    def _gather(self, first: _Pending) -> list[_Pending]:
        batch, deadline = [first], time.monotonic() + self._window
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[_Pending]) -> None:
        try:
            self.transactions += 1
            results = self._store.save_snapshots([p.write for p in batch])
        except StoreUnavailable as exc:
            results = [exc] * len(batch)
        except StoreError as exc:  # one bad write (no row, too large) must not fail the others
            results = [exc] if len(batch) == 1 else [self._write_alone(p.write) for p in batch]
        for pending, result in zip(batch, results):
            if isinstance(result, StoreError):
                pending.error = result
            else:
                pending.stored = result
            pending.done.set()

    def _write_alone(self, write: SnapshotWrite) -> bool | StoreError:
        try:
            self.transactions += 1
            return self._store.save_snapshots([write])[0]
        except StoreError as exc:
            return exc


_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def writer_for(store: SessionStore) -> SnapshotWriter:
    """The store's writer, made on first use."""
    with _writers_lock:
        writer = _writers.get(store)
        if writer is None:
            writer = _writers[store] = SnapshotWriter(store)
        return writer
