"""Persistence: what the store keeps of one client, written from the worker thread.

The store is the source of truth. This part writes the client's row and snapshots of its session
file when they changed, restores the stored snapshot before a backend opens the file, and guards
deletion: once the rows are deleted, no late write may bring them back. It returns outcomes and
logs store trouble; it never changes the client's state, which is the worker's business.
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum
from pathlib import Path
from typing import Callable

from .. import sessionfile
from ..store.base import ClientRecord, SessionStore, StoreError

log = logging.getLogger(__package__)


class Write(StrEnum):
    """How a write went."""

    WRITTEN = "written"
    UNCHANGED = "unchanged"  # the store has it already (or there is nothing to save)
    BLOCKED = "blocked"  # the client was deleted: nothing is written any more
    FAILED = "failed"  # the store refused; the next flush tries again


class Restore(StrEnum):
    """Where the session file a backend is about to open came from."""

    FROM_STORE = "from_store"
    LOCAL_COPY = "local_copy"  # the store had none or could not be read; the working file is as good
    MISSING = "missing"  # neither: the client cannot reconnect


class Persistence:
    """One client's row and session snapshots in the store, and its working session file."""

    def __init__(self, client_id: str, store: SessionStore, session_path: Path):
        self._client_id = client_id
        self._store = store
        self.session_path = session_path
        self._lock = threading.Lock()  # makes "deleted" and a store write mutually exclusive
        self._deleted = False
        self._row_dirty = False
        self._saved_sha: str | None = None  # of the last snapshot the store holds
        self._saved_signature: tuple[int, int] | None = None  # of the file when it was last checked
        self._snapshot_pending = False  # a snapshot failed: try again even if the file looks unchanged

    @property
    def deleted(self) -> bool:
        with self._lock:
            return self._deleted

    # ---- writes ------------------------------------------------------------------------------
    def save_row(self, record: ClientRecord) -> Write:
        """Write the client's row; a failed write is retried by the next flush."""
        self._row_dirty = True
        outcome = self._guarded("state", lambda: self._store.save_client(record))
        if outcome is Write.WRITTEN:
            self._row_dirty = False
        return outcome

    def flush(self, record: ClientRecord, *, force_snapshot: bool = False) -> Write:
        """Write what the store lacks: a row not yet saved, and the session file if it changed.

        Returns how the snapshot went; a paired client's file is compared by (mtime, size), so an
        idle client costs a stat() and no write.
        """
        if self._row_dirty:
            self.save_row(record)
        if record.jid is None:
            return Write.UNCHANGED
        signature = sessionfile.file_signature(self.session_path)
        if signature is None:
            return Write.UNCHANGED
        if not (force_snapshot or self._snapshot_pending or signature != self._saved_signature):
            return Write.UNCHANGED
        return self._save_snapshot(signature)

    def _save_snapshot(self, signature: tuple[int, int]) -> Write:
        try:
            snap = sessionfile.read_snapshot(self.session_path)
        except sessionfile.SnapshotFailed as exc:
            log.warning("[%s] %s", self._client_id, exc)
            self._snapshot_pending = True
            return Write.FAILED
        outcome = Write.UNCHANGED  # touched, but the same contents as the stored snapshot
        if snap.sha256 != self._saved_sha:
            outcome = self._guarded(
                "snapshot", lambda: self._store.save_snapshot(self._client_id, snap.data, snap.sha256))
            if outcome is Write.FAILED:
                self._snapshot_pending = True
            if outcome is not Write.WRITTEN:
                return outcome
            log.debug("[%s] snapshot saved (%d bytes)", self._client_id, len(snap.data))
            self._saved_sha = snap.sha256
        self._saved_signature = signature
        self._snapshot_pending = False
        return outcome

    def _guarded(self, what: str, write: Callable[[], object]) -> Write:
        """One store write, never after a delete; a delete waits for a write in flight."""
        with self._lock:
            if self._deleted:
                return Write.BLOCKED
            try:
                write()
            except StoreError as exc:
                log.warning("[%s] %s not saved yet (%s); will retry", self._client_id, what, exc)
                return Write.FAILED
        return Write.WRITTEN

    # ---- session keys ------------------------------------------------------------------------
    def restore(self) -> Restore:
        """Write the stored snapshot to the working file, before a backend opens it.

        Raises StoreError when the store cannot be read and there is no working file to fall back on.
        """
        try:
            snap = self._store.load_snapshot(self._client_id)
        except StoreError as exc:
            if self.session_path.exists():  # the working copy is as good as the store's
                log.warning("[%s] snapshot not loaded (%s); using the local copy", self._client_id, exc)
                return Restore.LOCAL_COPY
            raise
        if snap is None:
            return Restore.LOCAL_COPY if self.session_path.exists() else Restore.MISSING
        self._saved_sha = sessionfile.restore_snapshot(self.session_path, snap.data)
        self._saved_signature = sessionfile.file_signature(self.session_path)
        return Restore.FROM_STORE

    def forget_keys(self) -> None:
        """Remove the working session file (the store's snapshot stays until replaced or removed)."""
        sessionfile.remove_session_file(self.session_path)
        self._saved_sha, self._saved_signature = None, None

    def remove_stored_snapshot(self) -> Write:
        """Remove the stored snapshot (the keys are void); FAILED leaves it for a later delete."""
        try:
            self._store.delete_snapshot(self._client_id)
        except StoreError as exc:
            log.warning("[%s] could not remove the stored snapshot yet: %s", self._client_id, exc)
            return Write.FAILED
        return Write.WRITTEN

    # ---- deleting ----------------------------------------------------------------------------
    def delete_rows(self) -> None:
        """Block writes (after one in flight), then delete the client's rows in one transaction.

        If the delete fails (StoreError, re-raised) nothing was deleted and writes resume.
        """
        with self._lock:
            self._deleted = True
        try:
            self._store.delete_client(self._client_id)
        except BaseException:
            with self._lock:
                self._deleted = False
            raise
