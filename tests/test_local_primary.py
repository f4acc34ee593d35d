"""The local session file is the primary copy: generations kept with the stored snapshot and in a
sidecar next to the file, every crash point between them, batched writes, and the snapshot lag.
Runs on SQLite and on MariaDB."""

from __future__ import annotations

import hashlib
import threading
import time
import zlib

import pytest

from tests.conftest import FlakyStore
from wamulti.sessions import session_file
from wamulti.store.store_api import ClientRecord, SnapshotWrite
from wamulti.sessions.persistence import Persistence, Restore, Write
from wamulti.sessions.group_commit import RowWriter, SnapshotWriter

JID = "4915123456789@s.whatsapp.net"


@pytest.fixture
def flaky(store):
    store.create_client(ClientRecord("p", "READY", jid=JID))
    return FlakyStore(store)


def persistence(flaky, tmp_path) -> Persistence:
    """A fresh Persistence, as after a restart of the process."""
    return Persistence("p", flaky, tmp_path / "p.session")


def record(flaky) -> ClientRecord:
    return flaky.get_client("p")


def write(path, data: bytes) -> None:
    path.write_bytes(data)
    time.sleep(0.002)  # distinct mtimes for consecutive writes


def stored(flaky) -> tuple[bytes, int]:
    snap = flaky.load_snapshot("p")
    return zlib.decompress(snap.data), snap.generation


def test_a_newer_local_file_is_kept_after_a_crash_and_saved_as_the_next_generation(flaky, tmp_path):
    p = persistence(flaky, tmp_path)
    write(p.session_path, b"keys 1")
    assert p.flush(record(flaky)) is Write.WRITTEN
    assert stored(flaky) == (b"keys 1", 1) and session_file.read_sidecar(p.session_path).generation == 1
    write(p.session_path, b"keys 2, ratchet moved")  # then the process dies before the next check
    again = persistence(flaky, tmp_path)
    assert again.restore() is Restore.LOCAL_COPY
    assert again.session_path.read_bytes() == b"keys 2, ratchet moved"
    assert again.flush(record(flaky)) is Write.WRITTEN
    assert stored(flaky) == (b"keys 2, ratchet moved", 2)


def test_a_crash_between_the_sidecar_and_the_store_keeps_the_local_file(flaky, tmp_path):
    p = persistence(flaky, tmp_path)
    write(p.session_path, b"keys 1")
    p.flush(record(flaky))
    write(p.session_path, b"keys 2")
    flaky.down = True  # the sidecar is written, the store write is not
    assert p.flush(record(flaky)) is Write.FAILED
    assert session_file.read_sidecar(p.session_path).generation == 2 and stored(flaky)[1] == 1
    flaky.down = False
    again = persistence(flaky, tmp_path)
    assert again.restore() is Restore.LOCAL_COPY and again.session_path.read_bytes() == b"keys 2"
    assert again.snapshot_lag()[0] >= 0 and again.flush(record(flaky)) is Write.WRITTEN
    assert stored(flaky) == (b"keys 2", 3), "generations only grow"


def test_an_unchanged_file_after_a_restart_is_in_sync_and_not_read_again(flaky, tmp_path):
    p = persistence(flaky, tmp_path)
    write(p.session_path, b"keys 1")
    p.flush(record(flaky))
    again = persistence(flaky, tmp_path)
    assert again.restore() is Restore.LOCAL_COPY
    lag, synced_at = again.snapshot_lag()
    assert lag == 0.0 and synced_at is not None
    assert again.flush(record(flaky)) is Write.UNCHANGED and flaky.load_snapshot("p").version == 1


def test_a_provably_newer_stored_copy_is_restored_and_its_generation_recorded(flaky, tmp_path):
    p = persistence(flaky, tmp_path)
    write(p.session_path, b"old host keys")
    p.flush(record(flaky))
    raw = b"keys saved from another copy"  # e.g. the account ran on another host meanwhile
    assert flaky.save_snapshots([SnapshotWrite("p", zlib.compress(raw), hashlib.sha256(raw).hexdigest(), 5)]) == [True]
    again = persistence(flaky, tmp_path)
    assert again.restore() is Restore.FROM_STORE and again.session_path.read_bytes() == raw
    assert session_file.read_sidecar(again.session_path).generation == 5
    assert again.snapshot_lag()[0] == 0.0


def test_a_crash_between_restoring_the_file_and_its_sidecar_restores_again(flaky, tmp_path):
    raw = b"stored keys"
    flaky.save_snapshots([SnapshotWrite("p", zlib.compress(raw), hashlib.sha256(raw).hexdigest(), 3)])
    path = tmp_path / "p.session"
    session_file.restore_snapshot(path, zlib.compress(raw))  # the file was written, the sidecar not
    assert persistence(flaky, tmp_path).restore() is Restore.LOCAL_COPY, "no sidecar: a file is never overwritten"
    session_file.write_sidecar(path, session_file.Sidecar(2))  # an older sidecar from before the restore
    assert persistence(flaky, tmp_path).restore() is Restore.FROM_STORE and path.read_bytes() == raw


def test_a_file_without_sidecar_from_an_older_version_is_kept(flaky, tmp_path):
    raw = b"stored keys"
    flaky.save_snapshot("p", zlib.compress(raw), hashlib.sha256(raw).hexdigest())
    p = persistence(flaky, tmp_path)
    write(p.session_path, b"newer working copy")
    assert p.restore() is Restore.LOCAL_COPY and p.session_path.read_bytes() == b"newer working copy"
    assert p.snapshot_lag()[1] is not None
    assert p.flush(record(flaky)) is Write.WRITTEN and stored(flaky) == (b"newer working copy", 2)


def test_keys_of_a_new_pairing_replace_the_old_snapshot(flaky, tmp_path):
    raw = b"old account"
    flaky.save_snapshots([SnapshotWrite("p", zlib.compress(raw), hashlib.sha256(raw).hexdigest(), 7)])
    p = persistence(flaky, tmp_path)
    p.forget_keys()
    write(p.session_path, b"new pairing")
    assert p.flush(record(flaky), force_snapshot=True) is Write.WRITTEN
    assert stored(flaky) == (b"new pairing", 8)


def test_the_store_never_takes_an_older_generation(flaky):
    old, new = b"older", b"newer"
    assert flaky.save_snapshots([SnapshotWrite("p", old, "a" * 64, 4), SnapshotWrite("p", new, "b" * 64, 3)]) == \
        [True, False]
    assert flaky.load_snapshot("p").data == old and flaky.snapshot_meta("p").generation == 4


def test_snapshot_lag_grows_while_the_store_is_behind_and_returns_to_zero(flaky, tmp_path):
    p = persistence(flaky, tmp_path)
    write(p.session_path, b"keys 1")
    p.flush(record(flaky))
    first_sync = p.snapshot_lag()[1]
    write(p.session_path, b"keys 2")
    flaky.down = True
    p.flush(record(flaky))
    time.sleep(0.2)
    lag, synced_at = p.snapshot_lag()
    assert lag >= 0.2 and synced_at == first_sync
    flaky.down = False
    p.flush(record(flaky))
    assert p.snapshot_lag()[0] == 0.0 and p.snapshot_lag()[1] > first_sync


def test_concurrent_snapshots_share_transactions_and_a_delete_waits_for_its_batch(store, tmp_path):
    writer = SnapshotWriter(store, window=0.2)
    for n in range(20):
        store.create_client(ClientRecord(f"c{n}", "READY", jid=JID))
    results: list[bool] = []
    threads = [threading.Thread(target=lambda n=n: results.append(
        writer.save(SnapshotWrite(f"c{n}", b"k%d" % n, f"{n:064d}", 1), tmp_path))) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [True] * 20 and writer.transactions <= 4
    assert [store.load_snapshot(f"c{n}").data for n in range(20)] == [b"k%d" % n for n in range(20)]
    store.delete_client("c0")
    with pytest.raises(Exception, match="no row"):
        writer.save(SnapshotWrite("c0", b"late", "f" * 64, 2), tmp_path)  # no snapshot without its client
    assert store.load_snapshot("c0") is None


def test_concurrent_rows_share_transactions(store):
    writer = RowWriter(store)
    store.create_client(ClientRecord("r0", "CONNECTING"))
    gate = threading.Barrier(30)

    def save(n):
        gate.wait()
        writer.save(ClientRecord(f"r{n}", "READY", jid=JID, last_error=f"n{n}"))

    threads = [threading.Thread(target=save, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [(r.client_id, r.state, r.last_error) for r in store.list_clients()] == \
        [(f"r{n}", "READY", f"n{n}") for n in sorted(range(30), key=lambda n: f"r{n}")]
    assert writer.transactions < 30
