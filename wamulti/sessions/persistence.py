"""Persistence: what the store keeps of one client, written from the worker thread.

The local session file is the primary copy of the keys; the store holds snapshots of it, for a
new host or a lost disk. This part writes the client's row and snapshots of the session file when
it changed, restores the stored snapshot before a backend opens the file only when the stored copy
is provably newer, and guards deletion: once the rows are deleted, no late write may bring them
back. It returns outcomes and logs store trouble; it never changes the client's state.

Generations ("never restore older over newer"): each snapshot carries a generation, kept in the
store with it and in a sidecar next to the file (session_file.Sidecar), which says "this file is at
least as new as generation N". A snapshot of generation N+1 is saved by (1) reading the file, (2)
writing the sidecar N+1 durably, (3) writing the store. A crash before (2) leaves both at N; after
(2), the sidecar is ahead of the store: either way the local file is kept. Start-up restores only
when the file is missing or the stored generation is higher than the sidecar's (the store was
written from another copy, e.g. another host); it writes the file first and the sidecar after, so
a crash in between restores the same snapshot again. A file without a (readable) sidecar, as left
by versions before generations, is kept: those versions restored the store's copy at every start
and then only ever saved from the file, so the file is at least as new as any stored snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Callable

from ..store.store_api import ClientRecord, SessionStore, SnapshotMeta, SnapshotWrite, StoreError
from . import session_file, snapshot_helpers
from .group_commit import writers_for

log = logging.getLogger(__package__)

_NOT_KNOWN = ClientRecord(client_id="", state="")  # equals no client's record


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
        self._signature_paths = session_file.signature_paths(session_path)
        self._lock = threading.Lock()  # makes "deleted" and a store write mutually exclusive
        self._deleted = False
        self._row_dirty = False
        self._stored_row = _NOT_KNOWN  # the row the store holds, when known (row_stored)
        self._saved_sha: str | None = None  # of the last snapshot the store holds
        self._saved_signature: session_file.Signature | None = None  # of the file the store holds a copy of
        self._snapshot_pending = False  # a snapshot failed: try again even if the file looks unchanged
        self._generation = 0  # the highest generation the local file is known to be at least as new as
        self._generation_known = False  # whether the store's generation was looked up (restore, first save)
        self._synced_at: datetime | None = None  # when the store last got (or matched) the file
        self._behind_since: float | None = None  # monotonic time a check first found the store behind
        self._known_meta: tuple[SnapshotMeta | None] | None = None  # read for the next restore by the registry

    @property
    def deleted(self) -> bool:
        with self._lock:
            return self._deleted

    # ---- writes ------------------------------------------------------------------------------
    def row_stored(self, record: ClientRecord) -> None:
        """The store holds this row (a create wrote it): saving it unchanged again writes nothing."""
        self._stored_row = record

    def save_row(self, record: ClientRecord) -> Write:
        """Write the client's row (not when only its time differs from the row the store holds); a
        failed write is retried by the next flush."""
        if not self._row_dirty and self._stored_row == replace(record, updated_at=self._stored_row.updated_at):
            return Write.UNCHANGED
        self._stored_row = _NOT_KNOWN
        self._row_dirty = True
        outcome = self._guarded("state", lambda: self._write_row(record))
        if outcome is Write.WRITTEN:
            self._row_dirty = False
        return outcome

    def _write_row(self, record: ClientRecord) -> None:
        """With other clients' rows in one transaction when helpers are in use (group_commit.py)."""
        if snapshot_helpers.shared_pool() is None:
            self._store.save_client(record)
        else:
            writers_for(self._store)[0].save(record)

    def flush(self, record: ClientRecord, *, force_snapshot: bool = False) -> Write:
        """Write what the store lacks: a row not yet saved, and the session file if it changed.

        Returns how the snapshot went; a paired client's file is compared by (mtime, size) of the
        file and its -wal/-journal, so an idle client costs a few stat() calls and no write.
        """
        if self._row_dirty:
            self.save_row(record)
        if record.jid is None:
            return Write.UNCHANGED
        signature = session_file.signature_of(self._signature_paths)
        if signature is None:
            return Write.UNCHANGED
        if not (force_snapshot or self._snapshot_pending or signature != self._saved_signature):
            return Write.UNCHANGED
        if self._behind_since is None:
            self._behind_since = time.monotonic()
        return self._save_snapshot(signature)

    def needs_flush(self, paired: bool) -> bool:
        """Whether flush() would write something: a row not saved yet, a snapshot to try again, or a
        paired client's file that changed since the store got it. Any thread (the periodic check,
        sessions/session_checks.py): it only reads, so at worst it sees a write a moment late and
        asks for one flush too many, which finds nothing to do."""
        if self._deleted:
            return False
        if self._row_dirty:
            return True
        if not paired:
            return False
        if self._snapshot_pending:
            return True
        signature = session_file.signature_of(self._signature_paths)
        return signature is not None and signature != self._saved_signature

    def _save_snapshot(self, signature: session_file.Signature) -> Write:
        try:
            snap = session_file.read_snapshot(self.session_path, known_sha=self._saved_sha)
        except session_file.SnapshotFailed as exc:
            log.warning("[%s] %s", self._client_id, exc)
            self._snapshot_pending = True
            return Write.FAILED
        if snap.sha256 == self._saved_sha:  # touched, but the same contents as the stored snapshot
            self._synced(signature)
            return Write.UNCHANGED
        if not self._learn_stored_generation():
            return Write.FAILED
        write = SnapshotWrite(self._client_id, snap.data, snap.sha256, self._generation + 1)
        batched = snapshot_helpers.shared_pool() is not None
        try:  # first the sidecar: from now on the local file counts as at least this new
            sidecar = session_file.Sidecar(write.generation, snap.sha256, signature)
            session_file.write_sidecar(self.session_path, sidecar, sync_dir=not batched)
        except OSError as exc:
            log.warning("[%s] snapshot not saved: sidecar not written (%s)", self._client_id, type(exc).__name__)
            self._snapshot_pending = True
            return Write.FAILED
        self._generation = write.generation
        outcome = self._guarded("snapshot", lambda: self._write_snapshot(write, batched))
        if outcome is Write.FAILED:
            self._snapshot_pending = True
        if outcome is not Write.WRITTEN:
            return outcome
        log.debug("[%s] snapshot %d saved (%d bytes)", self._client_id, write.generation, len(write.data))
        self._saved_sha = snap.sha256
        self._synced(signature)
        return outcome

    def _learn_stored_generation(self) -> bool:
        """Before the first save of new keys (a new pairing), start above what the store holds."""
        if self._generation_known:
            return True
        try:
            meta = self._store.snapshot_meta(self._client_id)
        except StoreError as exc:
            log.warning("[%s] snapshot not saved yet (%s); will retry", self._client_id, exc)
            self._snapshot_pending = True
            return False
        self._generation = max(self._generation, meta.generation if meta else 0)
        self._generation_known = True
        return True

    def _write_snapshot(self, write: SnapshotWrite, batched: bool) -> None:
        """Batched with other clients' snapshots when helpers are in use (group_commit.py)."""
        if batched:
            stored = writers_for(self._store)[1].save(write, self.session_path.parent)
        else:
            stored = self._store.save_snapshots([write])[0]
        if not stored:
            raise StoreError(f"the store holds a newer snapshot than generation {write.generation}")

    def _synced(self, signature: session_file.Signature | None) -> None:
        self._saved_signature = signature
        self._snapshot_pending = False
        self._synced_at = _utcnow()
        self._behind_since = None

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
    def know_stored(self, meta: SnapshotMeta | None) -> None:
        """The store's snapshot meta for this client (None: it has none), read by the registry for every
        client in one query at start-up; the next restore() uses it instead of asking the store."""
        self._known_meta = (meta,)

    def _stored_meta(self) -> SnapshotMeta | None:
        """What the store holds of this client's keys: the start-up reading once, then the store's
        answer (raises StoreError)."""
        known, self._known_meta = self._known_meta, None
        if known is not None:
            return known[0]
        return self._store.snapshot_meta(self._client_id)

    def restore(self) -> Restore:
        """Make sure the working file holds the newest keys before a backend opens it.

        Keeps the local file unless it is missing or the stored snapshot is provably newer (see the
        module's docstring). Raises StoreError when the store cannot be read and there is no
        working file to fall back on.
        """
        if not self.session_path.exists():  # StoreError goes to the caller: nothing to fall back on
            self._known_meta = None  # the snapshot itself is read, with its meta
            return Restore.FROM_STORE if self._restore_from_store(None) else Restore.MISSING
        sidecar = session_file.read_sidecar(self.session_path)
        try:
            meta = self._stored_meta()
        except StoreError as exc:
            log.warning("[%s] snapshot not looked up (%s); using the local copy", self._client_id, exc)
            self._keep_local(sidecar, None, looked_up=False)
            return Restore.LOCAL_COPY
        if meta is None or sidecar is None or meta.generation <= sidecar.generation:
            self._keep_local(sidecar, meta)
            return Restore.LOCAL_COPY
        return Restore.FROM_STORE if self._restore_from_store(sidecar) else Restore.MISSING

    def _keep_local(self, sidecar: session_file.Sidecar | None, meta: SnapshotMeta | None, looked_up=True) -> None:
        """The local file is primary: learn what the store already has of it."""
        self._generation = max(sidecar.generation if sidecar else 0, meta.generation if meta else 0)
        self._generation_known = looked_up
        self._saved_sha = meta.sha256 if meta else None
        in_sync = sidecar is not None and meta is not None and (sidecar.generation, sidecar.sha256) == (
            meta.generation, meta.sha256)
        self._saved_signature = sidecar.signature if in_sync else None  # else the first check saves it
        self._synced_at = meta.updated_at if meta else None
        self._behind_since = None if in_sync else time.monotonic()

    def _restore_from_store(self, sidecar: session_file.Sidecar | None) -> bool:
        snap = self._store.load_snapshot(self._client_id)
        if snap is None:
            return False
        if sidecar is not None:
            log.info("[%s] the stored snapshot (generation %d) is newer than the local file (%d); restoring it",
                     self._client_id, snap.generation, sidecar.generation)
        self._saved_sha = session_file.restore_snapshot(self.session_path, snap.data)
        self._saved_signature = session_file.file_signature(self.session_path)
        session_file.write_sidecar(self.session_path,  # after the file: a crash before this restores again
                                  session_file.Sidecar(snap.generation, self._saved_sha, self._saved_signature))
        self._generation, self._generation_known = snap.generation, True
        self._synced_at, self._behind_since = snap.updated_at, None
        return True

    def forget_keys(self) -> None:
        """Remove the working session file and its sidecar (the store's snapshot stays until replaced
        or removed)."""
        session_file.remove_session_file(self.session_path)
        self._saved_sha, self._saved_signature, self._generation = None, None, 0
        self._generation_known = False
        self._synced_at, self._behind_since = None, None

    def snapshot_lag(self) -> tuple[float, datetime | None]:
        """(seconds the stored copy has been behind the local file: 0 when in sync, else since the store
        last got or matched the file, or since a check first saw a file the store never had; that
        time), as of the last check (every few seconds). Any thread; no I/O: /api/clients lists
        thousands of clients."""
        synced_at, since = self._synced_at, self._behind_since
        if since is None:
            return 0.0, synced_at
        if synced_at is not None:
            return max(0.0, (_utcnow() - synced_at).total_seconds()), synced_at
        return time.monotonic() - since, None

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


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
