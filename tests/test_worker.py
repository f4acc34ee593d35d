"""The worker's state machine and persistence, driven through FakeBackend on the real SQLite store."""

from __future__ import annotations

import hashlib
import threading
import time
import zlib

import pytest

from tests.fake_backend import FakeBackend, FakePrompter
from wamulti import sessionfile
from wamulti.backends import base as bk
from wamulti.errors import NotReady, Upstream
from wamulti.store.base import ClientRecord
from wamulti.worker import CLOSED, CONNECTING, PAIRING, READY, SYNCING, ClientWorker, backoff_delay


@pytest.fixture
def store(sqlite_store):
    return sqlite_store


@pytest.fixture
def backend():
    return FakeBackend()


@pytest.fixture
def make_worker(tmp_path, store, backend):
    workers = []

    def make(client_id="alice", *, jid=None, phone=None, prompter=None, pairing_timeout=30.0, **options):
        record = store.create_client(ClientRecord(client_id, CONNECTING, phone=phone, jid=jid))
        options.setdefault("snapshot_interval", 0.2)
        w = ClientWorker(record, backend=backend, store=store, prompter=prompter or FakePrompter(),
                         data_dir=tmp_path / "data", pairing_timeout=pairing_timeout, **options)
        workers.append(w)
        return w

    yield make
    for w in workers:
        w.stop()
        assert w.join(10), f"worker {w.client_id} did not stop"


def wait_until(predicate, timeout=5.0):
    """Wait on a condition that another thread makes true (bounded; the workers notify no Event here)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def pair_by_phone(worker, backend, generation=1):
    worker.start(phone="4915123456789")
    session = backend.wait_session(generation)
    session.emit(bk.QrUpdated("2@qr-data"))
    worker.wait_for_pairing_code(5)
    return session


def test_backoff_doubles_to_a_cap_with_jitter():
    assert [round(backoff_delay(n, rng=lambda: 0.5), 3) for n in (1, 2, 3, 4, 7, 8, 20)] == [1, 2, 4, 8, 60, 60, 60]
    assert backoff_delay(1, rng=lambda: 0.0) == pytest.approx(0.8)
    assert backoff_delay(1, rng=lambda: 1.0) == pytest.approx(1.2)


def test_pairing_by_phone_snapshot_and_ready(make_worker, backend, store):
    w = make_worker()
    session = pair_by_phone(w, backend)
    assert ("pair_phone", "4915123456789") in session.calls
    status = w.status()
    assert (status.state, status.pairing_code, status.phone) == (PAIRING, "ABCD-EFGH", "4915123456789")
    assert w.qr() == "2@qr-data"

    session.write_keys(b"device keys v1")
    session.emit(bk.PairSuccess("4915123456789@s.whatsapp.net"))
    session.emit(bk.Connected())
    assert w.wait_for_state({SYNCING}, 5)
    snap = store.load_snapshot("alice")
    assert snap is not None and zlib.decompress(snap.data) == b"device keys v1"
    assert w.status().pairing_code is None and w.qr() is None
    session.emit(bk.SyncCompleted())
    assert w.wait_for_state({READY}, 5)
    wait_until(lambda: store.get_client("alice").state == READY)  # saved right after the transition
    assert store.get_client("alice").jid == "4915123456789@s.whatsapp.net"


def test_changed_session_file_is_snapshotted_and_unchanged_is_not(make_worker, backend, store):
    w = make_worker()
    session = pair_by_phone(w, backend)
    session.write_keys(b"v1")
    session.emit(bk.PairSuccess("491511111111@s.whatsapp.net"))
    session.emit(bk.Connected())
    wait_until(lambda: store.load_snapshot("alice") is not None)
    first = store.load_snapshot("alice")
    time.sleep(0.05)  # a distinct mtime for the next write
    session.write_keys(b"v2 after a key rotation")
    wait_until(lambda: store.load_snapshot("alice").version > first.version)
    second = store.load_snapshot("alice")
    assert zlib.decompress(second.data) == b"v2 after a key rotation"
    time.sleep(0.6)  # three snapshot intervals with no change
    assert store.load_snapshot("alice").version == second.version


def test_restore_writes_stored_snapshot_before_connect(make_worker, backend, store):
    raw = b"stored keys \x00\xff"
    w = make_worker("bob", jid="491522222222@s.whatsapp.net")
    store.save_snapshot("bob", zlib.compress(raw), hashlib.sha256(raw).hexdigest())
    w.start()
    session = backend.wait_session(1)
    assert session.path.read_bytes() == raw
    session.emit(bk.Connected())
    session.emit(bk.SyncCompleted())
    assert w.wait_for_state({READY}, 5)
    version = store.load_snapshot("bob").version
    w.stop()
    assert w.join(5)
    assert store.load_snapshot("bob").version == version, "an unchanged file must not be rewritten"


def test_paired_client_without_any_snapshot_closes(make_worker, backend):
    w = make_worker("carol", jid="491533333333@s.whatsapp.net")
    w.start()
    assert w.wait_for_state({CLOSED}, 5)
    assert w.status().last_error == "session_missing"
    assert backend.sessions == []


def test_connect_failure_backs_off_and_retries(make_worker, backend, store):
    backend.connect_failure = "dial tcp: lookup web.whatsapp.com: no such host"
    w = make_worker()
    w.start(phone="4915123456789")
    backend.wait_session(1)
    wait_until(lambda: (w.status().last_error or "").startswith("connect_failed: dial tcp"))
    assert w.state == CONNECTING
    started = time.monotonic()
    backend.wait_session(2, timeout=3)  # first retry after 0.8-1.2 s
    assert 0.6 < time.monotonic() - started < 2.5
    assert store.get_client("alice").last_error.startswith("connect_failed")
    backend.connect_failure = None


def test_logged_out_removes_keys_and_closes(make_worker, backend, store):
    w = make_worker()
    session = pair_by_phone(w, backend)
    session.write_keys()
    session.emit(bk.PairSuccess("491544444444@s.whatsapp.net"))
    session.emit(bk.Connected())
    wait_until(lambda: store.load_snapshot("alice") is not None)
    session.emit(bk.LoggedOut("logged_out"))
    assert w.wait_for_state({CLOSED}, 5)
    assert w.join(5)
    assert not w.session_path.exists()
    assert store.load_snapshot("alice") is None
    row = store.get_client("alice")
    assert (row.state, row.last_error, row.jid) == (CLOSED, "logged_out", None)


@pytest.mark.parametrize("reason", ["stream_replaced", "temporary_ban"])
def test_terminal_events_close_and_keep_keys(make_worker, backend, store, reason):
    w = make_worker()
    session = pair_by_phone(w, backend)
    session.write_keys()
    session.emit(bk.PairSuccess("491555555555@s.whatsapp.net"))
    session.emit(bk.Terminated(reason))
    assert w.wait_for_state({CLOSED}, 5)
    assert w.join(5)
    assert session.stopped.is_set()
    assert store.get_client("alice").last_error == reason
    assert store.load_snapshot("alice") is not None


def test_disconnect_goes_back_to_connecting(make_worker, backend):
    w = make_worker()
    session = pair_by_phone(w, backend)
    session.emit(bk.PairSuccess("491566666666@s.whatsapp.net"))
    session.emit(bk.Connected())
    session.emit(bk.SyncCompleted())
    assert w.wait_for_state({READY}, 5)
    session.emit(bk.Disconnected("keepalive timeout"))
    assert w.wait_for_state({CONNECTING}, 5)
    session.emit(bk.Connected())
    assert w.wait_for_state({SYNCING}, 5)


def test_pairing_timeout_closes_and_pair_starts_over(make_worker, backend):
    w = make_worker(pairing_timeout=0.3)
    pair_by_phone(w, backend)
    assert w.wait_for_state({CLOSED}, 5)
    assert w.status().last_error == "pairing_timeout"
    assert w.join(5)
    backend.next_code = "WXYZ-2345"
    w.pair("4915999999999")
    session = backend.wait_session(2)
    session.emit(bk.QrUpdated("2@new-qr"))
    w.wait_for_pairing_code(5)
    assert (w.state, w.status().pairing_code, w.status().phone) == (PAIRING, "WXYZ-2345", "4915999999999")


def test_console_pairing_uses_the_typed_number(make_worker, backend):
    prompter = FakePrompter()
    w = make_worker(prompter=prompter)
    w.start()
    assert w.state == PAIRING and backend.sessions == []
    prompter.answer("alice", "4917012345678")
    session = backend.wait_session(1)
    session.emit(bk.QrUpdated("2@qr"))
    w.wait_for_pairing_code(5)
    assert ("pair_phone", "4917012345678") in session.calls
    assert prompter.codes == [("alice", "ABCD-EFGH")]


def test_console_without_answer_closes_no_phone_number(make_worker):
    prompter = FakePrompter()
    w = make_worker(prompter=prompter)
    w.start()
    prompter.answer("alice", None, "no_phone_number")
    assert w.wait_for_state({CLOSED}, 5)
    assert w.status().last_error == "no_phone_number"


def test_send_maps_states_and_failures(make_worker, backend):
    w = make_worker(send_timeout=0.3)
    with pytest.raises(NotReady) as err:
        w.send_text("491500000000@s.whatsapp.net", "hi")
    assert err.value.current_state == CONNECTING
    session = pair_by_phone(w, backend)
    session.emit(bk.PairSuccess("491577777777@s.whatsapp.net"))
    session.emit(bk.Connected())
    session.emit(bk.SyncCompleted())
    assert w.wait_for_state({READY}, 5)
    sent = w.send_text("491500000000@s.whatsapp.net", "héllo 👋")
    assert sent.message_id and ("send_text", "491500000000@s.whatsapp.net", "héllo 👋") in session.calls
    session.send_error = bk.SendFailed("server returned error 479")
    with pytest.raises(Upstream, match="479"):
        w.send_text("491500000000@s.whatsapp.net", "x")
    session.send_error, session.send_delay = None, 2.0
    with pytest.raises(Upstream, match="did not confirm"):
        w.send_text("491500000000@s.whatsapp.net", "slow")
    assert w.state == READY, "a failed send must not change the client's state"


def test_parallel_sends_on_one_client(make_worker, backend):
    w = make_worker()
    session = pair_by_phone(w, backend)
    session.emit(bk.PairSuccess("491588888888@s.whatsapp.net"))
    session.emit(bk.Connected())
    session.emit(bk.SyncCompleted())
    assert w.wait_for_state({READY}, 5)
    ids, errors = [], []

    def send(i):
        try:
            ids.append(w.send_text("491500000000@s.whatsapp.net", f"m{i}").message_id)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and len(ids) == 40


def test_delete_while_pairing_writes_nothing_more_and_removes_file(make_worker, backend, store):
    w = make_worker()
    session = pair_by_phone(w, backend)
    session.write_keys()
    w.block_writes()
    store.delete_client("alice")
    started = time.monotonic()
    w.stop(delete=True)
    assert w.join(2) and time.monotonic() - started < 2
    assert session.stopped.is_set() and not w.session_path.exists()
    assert store.get_client("alice") is None, "a deleted client's row must not come back"


def test_delete_during_reconnect_backoff_is_quick(make_worker, backend, store):
    backend.connect_failure = "offline"
    w = make_worker()
    w.start(phone="4915123456789")
    backend.wait_session(1)
    wait_until(lambda: (w.status().last_error or "").startswith("connect_failed"))
    w.block_writes()
    store.delete_client("alice")
    started = time.monotonic()
    w.stop(delete=True)
    assert w.join(2) and time.monotonic() - started < 2
    assert store.get_client("alice") is None


def test_snapshot_reader_handles_sqlite_files(tmp_path):
    import sqlite3

    path = tmp_path / "s.db"
    con = sqlite3.connect(path)
    con.execute("create table t (v text)")
    con.execute("insert into t values ('ключ 🔑')")
    con.commit()
    con.close()
    snap = sessionfile.read_snapshot(path)
    restored = tmp_path / "restored.db"
    sessionfile.restore_snapshot(restored, snap.data)
    con = sqlite3.connect(restored)
    assert con.execute("pragma integrity_check").fetchone() == ("ok",)
    assert con.execute("select v from t").fetchone() == ("ключ 🔑",)
    con.close()
