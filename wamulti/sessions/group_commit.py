"""Group commit: the snapshots (SnapshotWriter) and rows (RowWriter) of many clients written
together, several per transaction.

Each worker thread hands its write over and waits for the transaction that carries it: a batch is
whatever queued while the previous one was written, and the first snapshot of a batch also waits
up to BATCH_WINDOW for others, so hundreds of busy clients cost a few transactions a second
instead of one each, and a thousand clients starting at once do not queue for the database pool
one row at a time. A worker keeps its delete guard (sessions/persistence.py) held while it waits,
so a delete still never overtakes a write in flight. One writer of each kind per store, made on
first use; its thread ends when idle and starts again on demand.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

from ..batches import BatchThread
from ..store.store_api import ClientRecord, SessionStore, SnapshotWrite, StoreError, StoreUnavailable
from . import session_file

BATCH_WINDOW = 0.1  # seconds the first write of a batch waits for more
MAX_BATCH = 200
WAIT_LIMIT = 120.0  # seconds a worker waits for its batch (the store's own timeouts come first)
IDLE_EXIT = 30.0  # seconds without writes before the thread ends


class _Pending:
    __slots__ = ("write", "directory", "done", "stored", "error")

    def __init__(self, write, directory: Path | None):
        self.write = write
        self.directory = directory
        self.done = threading.Event()
        self.stored = False
        self.error: StoreError | None = None


class _GroupCommit:
    """One thread writing what worker threads hand over, a batch per transaction."""

    name = "group-commit"

    def __init__(self, store: SessionStore, window: float = 0.0):
        self._store = store
        self._thread = BatchThread(self.name, self._write, max_batch=MAX_BATCH, window=window, idle_exit=IDLE_EXIT)
        self.transactions = 0  # batches written (for tests and benchmarks)

    def _submit(self, write, directory: Path | None = None) -> bool:
        pending = _Pending(write, directory)
        self._thread.put(pending)
        if not pending.done.wait(WAIT_LIMIT):
            raise StoreUnavailable(f"not written within {WAIT_LIMIT:g}s")
        if pending.error is not None:
            raise pending.error
        return pending.stored

    def _write(self, batch: list[_Pending]) -> None:
        results = self._save(batch)
        for pending, result in zip(batch, results):
            if isinstance(result, StoreError):
                pending.error = result
            else:
                pending.stored = result
            pending.done.set()

    def _save(self, batch: list[_Pending]) -> list[bool | StoreError]:
        raise NotImplementedError


class RowWriter(_GroupCommit):
    """Client rows (state changes), many per transaction."""

    name = "row-writer"

    def save(self, record: ClientRecord) -> None:
        """Write one row with whatever else is due; raises StoreError as the store would."""
        self._submit(record)

    def _save(self, batch: list[_Pending]) -> list[bool | StoreError]:
        try:
            self.transactions += 1
            self._store.save_clients([p.write for p in batch])
        except StoreError as exc:
            return [exc] * len(batch)
        return [True] * len(batch)


class SnapshotWriter(_GroupCommit):
    """Session snapshots, many per transaction, after the sidecars they follow are durable."""

    name = "snapshot-writer"

    def __init__(self, store: SessionStore, window: float = BATCH_WINDOW):
        super().__init__(store, window)

    def save(self, write: SnapshotWrite, sidecar_dir: Path) -> bool:
        """Write one snapshot with whatever else is due; True if stored, False if the store holds a
        newer generation. Raises StoreError as the store would. sidecar_dir holds the client's
        sidecar, renamed but not yet synced: it is synced (once per batch) before the store write."""
        return self._submit(write, sidecar_dir)

    def _save(self, batch: list[_Pending]) -> list[bool | StoreError]:
        try:
            for directory in {p.directory for p in batch}:
                session_file.sync_directory(directory)  # the sidecars first: never a store ahead of them
        except OSError as exc:
            return [StoreError(f"sidecar not synced ({type(exc).__name__})")] * len(batch)
        try:
            self.transactions += 1
            return list(self._store.save_snapshots([p.write for p in batch]))
        except StoreUnavailable as exc:
            return [exc] * len(batch)
        except StoreError as exc:  # one bad write (no row, too large) must not fail the others
            return [exc] if len(batch) == 1 else [self._write_alone(p.write) for p in batch]

    def _write_alone(self, write: SnapshotWrite) -> bool | StoreError:
        try:
            self.transactions += 1
            return self._store.save_snapshots([write])[0]
        except StoreError as exc:
            return exc


_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def writers_for(store: SessionStore) -> tuple[RowWriter, SnapshotWriter]:
    """The store's writers, made on first use."""
    with _writers_lock:
        writers = _writers.get(store)
        if writers is None:
            writers = _writers[store] = (RowWriter(store), SnapshotWriter(store))
        return writers
