"""The worker's state machine and persistence, driven through FakeBackend on the real SQLite store."""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from pathlib import Path

import pytest

from tests.conftest import BUSY_BOUND, drive_to_ready, send_and_wait, wait_until
from tests.fake_backend import FakePrompter, FakeSession
from tests.test_connectivity import ScriptedProbe
from wamulti.sessions import session_file
from wamulti.backends.backend_api import (ConnectFailed, Connected, Disconnected, LoggedOut, PairSuccess, QrUpdated,
    RetryLater, SendFailed, Terminated)
from wamulti.backends.connectivity import ConnectivityGate
from wamulti.clients.restore import comes_back
from wamulti.store.store_api import ClientRecord
from wamulti.errors import NotReady, Upstream
from wamulti.clients.states import CLOSED, CONNECTING, PAIRING, READY, SYNCING
from wamulti.clients.connection import backoff_delay
from wamulti.sending.outcome import Accepted

PHONE = "4915123456789"


def pair_by_phone(worker, backend, generation=1):
    """Start pairing by phone and open a QR window: the worker asks for a code (the fake's next_code)."""
    worker.start(phone=PHONE)
    session = backend.wait_session(generation)
    session.emit(QrUpdated("2@qr-data"))
    worker.wait_for_pairing_code(5)
    return session


def pair_and_get_ready(worker, backend, jid):
    session = pair_by_phone(worker, backend)
    session.emit(PairSuccess(jid))
    drive_to_ready(session)
    assert worker.wait_for_state({READY}, 5)
    return session


def test_backoff_doubles_to_a_cap_with_jitter():
    assert [round(backoff_delay(n, rng=lambda: 0.5), 3) for n in (1, 2, 3, 4, 7, 8, 20)] == [1, 2, 4, 8, 60, 60, 60]
    assert backoff_delay(1, rng=lambda: 0.0) == pytest.approx(0.8)
    assert backoff_delay(1, rng=lambda: 1.0) == pytest.approx(1.2)


def test_pairing_by_phone_shows_a_code_saves_the_keys_at_once_and_goes_ready(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_by_phone(w, fake_backend)
    assert ("pair_phone", PHONE) in session.calls
    status = w.status()
    assert (status.state, status.pairing_code, status.phone) == (PAIRING, "ABCD-EFGH", PHONE)
    assert w.qr() == "2@qr-data"

    session.write_keys(b"device keys v1")
    session.emit(PairSuccess("4915123456789@s.whatsapp.net"))
    session.emit(Connected())
    assert w.wait_for_state({SYNCING}, 5)
    snap = sqlite_store.load_snapshot("alice")
    assert snap is not None and zlib.decompress(snap.data) == b"device keys v1"
    assert w.status().pairing_code is None and w.qr() is None
    drive_to_ready(session)
    assert w.wait_for_state({READY}, 5)
    wait_until(lambda: sqlite_store.get_client("alice").state == READY)  # saved right after the transition
    assert sqlite_store.get_client("alice").jid == "4915123456789@s.whatsapp.net"


def test_changed_session_file_is_snapshotted_and_unchanged_is_not(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_by_phone(w, fake_backend)
    session.write_keys(b"v1")
    session.emit(PairSuccess("491511111111@s.whatsapp.net"))
    session.emit(Connected())
    wait_until(lambda: sqlite_store.load_snapshot("alice") is not None)
    first = sqlite_store.load_snapshot("alice")
    time.sleep(0.05)  # a distinct mtime for the next write
    session.write_keys(b"v2 after a key rotation")
    wait_until(lambda: sqlite_store.load_snapshot("alice").version > first.version)
    second = sqlite_store.load_snapshot("alice")
    assert zlib.decompress(second.data) == b"v2 after a key rotation"
    time.sleep(0.6)  # three snapshot intervals with no change
    assert sqlite_store.load_snapshot("alice").version == second.version


def test_restart_writes_the_stored_snapshot_before_connecting_and_never_rewrites_it(make_worker, fake_backend,
                                                                                    sqlite_store):
    raw = b"stored keys \x00\xff"
    w = make_worker("bob", jid="491522222222@s.whatsapp.net")
    sqlite_store.save_snapshot("bob", zlib.compress(raw), hashlib.sha256(raw).hexdigest())
    w.start()
    session = fake_backend.wait_session(1)
    assert session.path.read_bytes() == raw
    drive_to_ready(session)
    assert w.wait_for_state({READY}, 5)
    version = sqlite_store.load_snapshot("bob").version
    w.stop()
    assert w.join(5)
    assert sqlite_store.load_snapshot("bob").version == version, "an unchanged file must not be rewritten"


def test_paired_client_without_any_snapshot_closes_session_missing(make_worker, fake_backend):
    w = make_worker("carol", jid="491533333333@s.whatsapp.net")
    w.start()
    assert w.wait_for_state({CLOSED}, 5)
    assert w.status().last_error == "session_missing"
    assert fake_backend.sessions == []


def test_connect_failure_is_saved_and_retried_after_backoff(make_worker, fake_backend, sqlite_store):
    fake_backend.connect_failure = "dial tcp: lookup web.whatsapp.com: no such host"
    w = make_worker()
    w.start(phone=PHONE)
    fake_backend.wait_session(1)
    wait_until(lambda: (w.status().last_error or "").startswith("connect_failed: dial tcp"))
    assert w.state == CONNECTING
    started = time.monotonic()
    fake_backend.wait_session(2, timeout=3)  # first retry after 0.8-1.2 s
    assert 0.6 < time.monotonic() - started < 2.5
    assert sqlite_store.get_client("alice").last_error.startswith("connect_failed")
    fake_backend.connect_failure = None


def test_logged_out_removes_keys_here_and_in_the_store_and_closes(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_by_phone(w, fake_backend)
    session.write_keys()
    session.emit(PairSuccess("491544444444@s.whatsapp.net"))
    session.emit(Connected())
    wait_until(lambda: sqlite_store.load_snapshot("alice") is not None)
    session.emit(LoggedOut("logged_out"))
    assert w.wait_for_state({CLOSED}, 5)
    assert w.join(5)
    assert not w.session_path.exists()
    assert sqlite_store.load_snapshot("alice") is None
    row = sqlite_store.get_client("alice")
    assert (row.state, row.last_error, row.jid) == (CLOSED, "logged_out", None)


@pytest.mark.parametrize("reason", ["stream_replaced", "temporary_ban"])
def test_terminal_events_close_and_keep_keys(make_worker, fake_backend, sqlite_store, reason):
    w = make_worker()
    session = pair_by_phone(w, fake_backend)
    session.write_keys()
    session.emit(PairSuccess("491555555555@s.whatsapp.net"))
    session.emit(Terminated(reason))
    assert w.wait_for_state({CLOSED}, 5)
    assert w.join(5)
    assert session.stopped.is_set()
    assert sqlite_store.get_client("alice").last_error == reason
    assert sqlite_store.load_snapshot("alice") is not None


def test_disconnect_goes_back_to_connecting_and_a_reconnect_syncs_again(make_worker, fake_backend):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, "491566666666@s.whatsapp.net")
    session.emit(Disconnected("keepalive timeout"))
    assert w.wait_for_state({CONNECTING}, 5)
    session.emit(Connected())
    assert w.wait_for_state({SYNCING}, 5)


def test_pairing_timeout_closes_and_pair_starts_over_with_a_new_code(make_worker, fake_backend):
    """The new attempt runs under the same 0.3 s timeout, which a busy machine may pass before the test
    looks: what it did is read from its state events and the session's calls, which stay."""
    from tests.test_worker_hearing import RecordingSink  # here: that module imports this one

    sink = RecordingSink()
    w = make_worker(pairing_timeout=0.3, events=sink)
    w.start(phone=PHONE)
    fake_backend.wait_session(1, BUSY_BOUND).emit(QrUpdated("2@qr-data"))  # a code, unless 0.3 s passed already
    assert w.wait_for_state({CLOSED}, BUSY_BOUND)
    assert w.status().last_error == "pairing_timeout"
    assert w.join(BUSY_BOUND)
    closed_at = len(sink.of_type("client.state"))
    fake_backend.next_code = "WXYZ-2345"
    w.pair("4915999999999")
    session = fake_backend.wait_session(2, BUSY_BOUND)
    session.emit(QrUpdated("2@new-qr"))
    w.wait_for_pairing_code(BUSY_BOUND)
    wait_until(lambda: ("PAIRING", None) in states_since(sink, closed_at), BUSY_BOUND)
    assert ("pair_phone", "4915999999999") in session.calls, "a code for the new number (the fake's next_code)"
    assert w.status().phone == "4915999999999"
    assert states_since(sink, closed_at)[0] == ("CONNECTING", None), "it started over, the old error cleared"


def states_since(sink, start: int) -> list[tuple[str, str | None]]:
    """The (state, lastError) of the client.state events from the start-th on."""
    return [(d["state"], d["lastError"]) for d in sink.of_type("client.state")[start:]]


def test_pair_while_pairing_abandons_the_attempt_and_asks_a_code_for_the_new_number(make_worker, fake_backend):
    w = make_worker()
    first = pair_by_phone(w, fake_backend)
    fake_backend.next_code = "NEWC-ODE1"
    w.pair("4915888888888")
    assert first.stopped.wait(5), "the old attempt's session is released"
    second = fake_backend.wait_session(2)
    second.emit(QrUpdated("2@second"))
    w.wait_for_pairing_code(5)
    assert ("pair_phone", "4915888888888") in second.calls
    assert (w.status().pairing_code, w.status().phone, w.qr()) == ("NEWC-ODE1", "4915888888888", "2@second")


def test_console_pairing_asks_for_the_number_and_shows_the_code_on_the_console(make_worker, fake_backend):
    prompter = FakePrompter()
    w = make_worker(prompter=prompter)
    w.start()
    assert w.wait_for_state({PAIRING}, 5) and fake_backend.sessions == []
    prompter.answer("alice", "4917012345678")
    session = fake_backend.wait_session(1)
    session.emit(QrUpdated("2@qr"))
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


def test_send_is_refused_unless_ready_and_failures_leave_the_state_alone(make_worker, fake_backend):
    w = make_worker()
    with pytest.raises(NotReady) as err:
        send_and_wait(w, "491500000000@s.whatsapp.net", "hi")
    assert err.value.current_state == CONNECTING
    session = pair_and_get_ready(w, fake_backend, "491577777777@s.whatsapp.net")
    sent = send_and_wait(w, "491500000000@s.whatsapp.net", "héllo 👋")
    assert sent.message_id and ("send_text", "491500000000@s.whatsapp.net", "héllo 👋") in session.calls
    session.send_error = SendFailed("server returned error 479")
    with pytest.raises(Upstream, match="479"):
        send_and_wait(w, "491500000000@s.whatsapp.net", "x")
    session.send_error, session.send_delay = None, 2.0
    still_sending = w.submit("491500000000@s.whatsapp.net", "slow", wait=0.3)  # more: tests/test_sending.py
    assert isinstance(still_sending, Accepted) and still_sending.message_id
    assert w.state == READY, "a failed send must not change the client's state"


def test_forty_parallel_sends_on_one_client_all_succeed(make_worker, fake_backend):
    w = make_worker()
    pair_and_get_ready(w, fake_backend, "491588888888@s.whatsapp.net")
    ids, errors = [], []

    def send(i):
        try:
            ids.append(send_and_wait(w, "491500000000@s.whatsapp.net", f"m{i}").message_id)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and len(ids) == 40


def test_delete_while_pairing_is_quick_writes_nothing_more_and_removes_the_file(make_worker, fake_backend,
                                                                                sqlite_store):
    w = make_worker()
    session = pair_by_phone(w, fake_backend)
    session.write_keys()
    started = time.monotonic()
    w.delete()
    assert w.join(2) and time.monotonic() - started < 2
    assert session.stopped.is_set() and not w.session_path.exists()
    assert sqlite_store.get_client("alice") is None, "a deleted client's row must not come back"


def test_delete_during_reconnect_backoff_is_quick(make_worker, fake_backend, sqlite_store):
    fake_backend.connect_failure = "offline"
    w = make_worker()
    w.start(phone=PHONE)
    fake_backend.wait_session(1)
    wait_until(lambda: (w.status().last_error or "").startswith("connect_failed"))
    started = time.monotonic()
    w.delete()
    assert w.join(2) and time.monotonic() - started < 2
    assert sqlite_store.get_client("alice") is None


def test_delete_of_a_ready_client_logs_it_out_first(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, "491599999999@s.whatsapp.net")
    w.delete()
    assert w.join(5)
    assert session.calls.index(("logout",)) < session.calls.index(("stop",))
    assert sqlite_store.get_client("alice") is None and not w.session_path.exists()


def test_a_deleted_worker_cannot_be_started_again(make_worker):
    w = make_worker()
    w.delete()
    with pytest.raises(RuntimeError, match="deleted"):
        w.start(phone=PHONE)


def test_snapshot_reader_copies_a_sqlite_file_consistently(tmp_path):
    import sqlite3

    path = tmp_path / "s.db"
    con = sqlite3.connect(path)
    con.execute("create table t (v text)")
    con.execute("insert into t values ('ключ 🔑')")
    con.commit()
    con.close()
    snap = session_file.read_snapshot(path)
    restored = tmp_path / "restored.db"
    session_file.restore_snapshot(restored, snap.data)
    con = sqlite3.connect(restored)
    assert con.execute("pragma integrity_check").fetchone() == ("ok",)
    assert con.execute("select v from t").fetchone() == ("ключ 🔑",)
    con.close()


# ---- outages: transient failures never close; paired clients wait on the connectivity gate ------
NETWORK_DOWN = ('failed to dial whatsapp web websocket: failed to WebSocket dial: failed to send handshake request: '
                'Get "https://web.whatsapp.com/ws/chat": Bad Gateway')

REACHED_EOF = 'failed to dial whatsapp web websocket: ... Get "https://web.whatsapp.com/ws/chat": EOF'


class GatedFakeSession(FakeSession):
    """Test double: a FakeSession whose failed connects are reported to the backend's gate, as neonize's are."""

    def connect(self) -> None:
        try:
            super().connect()
        except ConnectFailed as exc:
            self.backend.connectivity.dial_failed(str(exc))
            raise


def gated(backend, probe) -> ConnectivityGate:
    backend.connectivity = ConnectivityGate(probe, probe_first=0.2, probe_cap=0.4)
    backend.new_session = lambda cid, path, emit: backend.record_session(GatedFakeSession(backend, cid, Path(path), emit))
    return backend.connectivity


def paired(make_worker, **options):
    worker = make_worker(jid="491577777777@s.whatsapp.net", **options)
    worker.session_path.parent.mkdir(parents=True, exist_ok=True)
    worker.session_path.write_bytes(b"keys")
    return worker


def test_transient_failures_never_close_a_client(make_worker, fake_backend, monkeypatch):
    monkeypatch.setattr("wamulti.clients.run.backoff_delay", lambda attempt: 0.005)  # 150 attempts in a second
    fake_backend.connect_failure = "dial tcp: lookup web.whatsapp.com: no such host"  # no gate: plain backoff
    w = paired(make_worker)
    w.start()
    fake_backend.wait_session(150, timeout=20)
    for n in range(151, 181):  # and WhatsApp's 5xx, as often
        fake_backend.connect_failure = None
        fake_backend.wait_session(n, timeout=5).emit(RetryLater("connect_failure: 503 service unavailable"))
    assert w.state == CONNECTING and not w.join(0.1)


def test_a_paired_client_waits_for_the_network_then_dials_within_the_spread(make_worker, fake_backend):
    probe = ScriptedProbe("proxy answered 502 Bad Gateway", "proxy answered 502 Bad Gateway", None)
    gate = gated(fake_backend, probe)
    fake_backend.connect_failure = NETWORK_DOWN
    w = paired(make_worker)
    w.start()
    fake_backend.wait_session(1)
    wait_until(lambda: w.status().last_error == "waiting_for_network: the proxy answered Bad Gateway")
    assert w.state == CONNECTING and gate.waiting == 1
    fake_backend.connect_failure = None
    session = fake_backend.wait_session(2, timeout=6)  # probes at 0.2 s, 0.6 s, 1.0 s; then within 2 s
    assert len(probe.calls) == 3 and session.connected.is_set() and len(fake_backend.sessions) == 2
    drive_to_ready(session)
    assert w.wait_for_state({READY}, 5) and w.status().last_error is None


def test_after_the_network_returns_a_failed_dial_backs_off_the_full_minute(make_worker, fake_backend):
    gated(fake_backend, ScriptedProbe("proxy answered 502 Bad Gateway", None))
    fake_backend.connect_failure = NETWORK_DOWN
    w = paired(make_worker)
    w.start()
    fake_backend.wait_session(1)
    fake_backend.connect_failure = REACHED_EOF  # the network is back, WhatsApp's side fails
    fake_backend.wait_session(2, timeout=6)
    wait_until(lambda: (w.status().last_error or "").startswith("connect_failed: failed to dial"))
    time.sleep(3.0)  # a second attempt's ordinary backoff is 1.6-2.4 s; after an outage it is 48-72 s
    assert len(fake_backend.sessions) == 2 and w.state == CONNECTING
    fake_backend.connect_failure = None


def test_failures_that_reached_whatsapp_back_off_without_the_gate(make_worker, fake_backend):
    probe = ScriptedProbe()
    gate = gated(fake_backend, probe)
    fake_backend.connect_failure = REACHED_EOF
    w = paired(make_worker)
    w.start()
    fake_backend.wait_session(2, timeout=3)  # the ordinary backoff, ~1 s
    assert gate.is_open and probe.calls == [] and w.status().last_error.startswith("connect_failed:")
    fake_backend.connect_failure = None


def test_a_stopped_client_no_longer_waits_and_an_unpaired_one_never_does(make_worker, fake_backend):
    gate = gated(fake_backend, ScriptedProbe(*["down"] * 100))
    gate.dial_failed(NETWORK_DOWN)
    w = paired(make_worker)
    w.start()
    wait_until(lambda: gate.waiting == 1)
    assert fake_backend.sessions == [] and w.status().last_error.startswith("waiting_for_network:")
    w.stop()
    assert w.join(5) and gate.waiting == 0
    unpaired = make_worker("bob")
    unpaired.start(phone=PHONE)
    fake_backend.wait_session(1)  # pairing dials (in a child process with neonize) are not gated
    gate.close()


@pytest.mark.parametrize("last_error, back", [
    ("connect_failed: failed to dial whatsapp web websocket: ... (gave up after 100 attempts; POST .../pair to retry)",
     True),
    ("connect_failure: 503 service unavailable (gave up after 100 attempts; POST .../pair to retry)", True),
    ("connect_failed: too many failed dials in this process (each leaks a descriptor in the library); restart the "
     "service to dial again (gave up after 7 attempts; POST .../pair to retry)", True),
    ("internal_error", True), ("logged_out: 401 unlinked from the phone", False), ("stream_replaced", False),
    ("connect_failure: 409 user agent rejected", False), ("pairing_failed", False),
])
def test_clients_closed_by_transient_failures_come_back_at_start_up(last_error, back):
    record = ClientRecord("c", CLOSED, jid="491577777777@s.whatsapp.net", last_error=last_error)
    assert comes_back(record) is back
