"""WhatsApp's reasons kept: the lastError values (backends/reasons.py), and what the worker does with
each (a temporary ban waits in CONNECTING until it expires, also across a restart; a 5xx reconnects
after a backoff; a missed keepalive leaves a READY client READY). FakeBackend on the real SQLite
store; the same events from real neonize protobufs are in tests/test_neonize_reasons.py.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from tests.conftest import drive_to_ready, wait_until
from tests.test_worker import pair_by_phone
from wamulti.backends import reasons
from wamulti.backends.backend_api import (Disconnected, KeepAliveMissed, KeepAliveRestored, LoggedOut, PairSuccess,
    RetryLater, TemporaryBan)
from wamulti.store.store_api import ClientRecord
from wamulti.clients.states import CLOSED, CONNECTING, READY

JID = "491511111111@s.whatsapp.net"


def pair_and_get_ready(worker, backend, jid):
    """A paired, READY client whose keys are saved in the store."""
    session = pair_by_phone(worker, backend)
    session.write_keys()
    session.emit(PairSuccess(jid))
    drive_to_ready(session)
    assert worker.wait_for_state({READY}, 5)
    return session


def ban(seconds: float) -> TemporaryBan:
    until = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    reason = reasons.temporary_ban(101, until)
    return TemporaryBan(reason, reasons.retry_at_of(reason))


# ---- the values ----------------------------------------------------------------------------------
def test_logout_reasons_name_the_code_and_what_it_means():
    assert reasons.logged_out(401) == "logged_out: 401 unlinked from the phone"
    assert reasons.logged_out(403) == "logged_out: 403 account locked"
    assert reasons.logged_out(406) == "logged_out: 406 banned"
    assert reasons.logged_out(None) == "logged_out: unknown reason"


def test_connect_failures_keep_the_code_and_whatsapps_message_and_only_5xx_are_retried():
    assert reasons.connect_failure(409) == "connect_failure: 409 user agent rejected"
    assert reasons.connect_failure(415, "  not\nfound ") == "connect_failure: 415 not found (not found)"
    assert reasons.connect_failure(None, "x" * 500) == "connect_failure: unknown reason (" + "x" * 120 + ")"
    assert [code for code in (400, 409, 415, 418, 500, 501, 503, None) if reasons.is_retryable(code)] == [500, 501, 503]


def test_a_temporary_ban_carries_its_expiry_rounded_up_and_it_reads_back():
    until = datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=timezone.utc)
    value = reasons.temporary_ban(104, until)
    assert value == "temporary_ban: 104 sent the same message to too many people (until 2026-12-01T10:00:01Z)"
    assert reasons.retry_at_of(value) == datetime(2026, 12, 1, 10, 0, 1, tzinfo=timezone.utc)
    assert reasons.temporary_ban(None, until.replace(microsecond=0)).startswith("temporary_ban: unknown reason (until")
    assert reasons.retry_at_of("connect_failed: (until 2026-12-01T10:00:01Z)") is None
    assert reasons.retry_at_of("temporary_ban: 101 something") is None
    assert reasons.retry_at_of(None) is None


# ---- what the worker does with them --------------------------------------------------------------
def test_logged_out_keeps_whatsapps_reason(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    session.emit(LoggedOut(reasons.logged_out(403)))
    assert w.wait_for_state({CLOSED}, 5) and w.join(5)
    row = sqlite_store.get_client("alice")
    assert (row.last_error, row.jid) == ("logged_out: 403 account locked", None)
    assert sqlite_store.load_snapshot("alice") is None and not w.session_path.exists()


def test_a_temporary_ban_waits_in_connecting_until_it_expires_then_reconnects(make_worker, fake_backend,
                                                                             sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    event = ban(1.5)
    banned_at = time.monotonic()
    session.emit(event)
    wait_until(lambda: w.status().retry_at is not None)
    status = w.status()
    assert (status.state, status.last_error, status.retry_at) == (CONNECTING, event.reason, event.retry_at)
    assert session.stopped.is_set(), "the banned connection is ended"
    assert sqlite_store.get_client("alice").last_error == event.reason, "persisted: a restart keeps it"
    assert sqlite_store.load_snapshot("alice") is not None, "the keys stay"
    second = fake_backend.wait_session(2, timeout=5)
    early = (event.retry_at - datetime.now(timezone.utc)).total_seconds()
    assert early < 0.1, f"reconnected {early:.2f}s before the ban expired"
    assert time.monotonic() - banned_at > 1.4
    drive_to_ready(second)
    assert w.wait_for_state({READY}, 5)
    assert (w.status().last_error, w.status().retry_at) == (None, None)


def test_a_restart_during_a_ban_reconnects_only_when_it_expires(make_worker, fake_backend, sqlite_store, tmp_path):
    from wamulti.sessions import session_file

    keys = tmp_path / "keys.session"
    keys.write_bytes(b"stored keys")
    snap = session_file.read_snapshot(keys)
    event = ban(1.5)
    w = make_worker(jid=JID)
    sqlite_store.save_client(ClientRecord("alice", CONNECTING, jid=JID, last_error=event.reason))
    sqlite_store.save_snapshot("alice", snap.data, snap.sha256)
    restarted = type(w)(sqlite_store.get_client("alice"), backend=fake_backend, store=sqlite_store,
                        prompter=None, data_dir=tmp_path / "data2", pairing_timeout=30, snapshot_interval=0.2)
    try:
        begun = time.monotonic()
        restarted.start()
        wait_until(lambda: restarted.state == CONNECTING)
        assert restarted.status().retry_at == event.retry_at
        assert restarted.status().last_error == event.reason, "the reason is not wiped by the restart"
        time.sleep(0.5)
        assert fake_backend.sessions == [], "no dial while the ban lasts"
        fake_backend.wait_session(1, timeout=5)
        assert time.monotonic() - begun > 0.9
    finally:
        restarted.stop()
        restarted.join(5)


def test_a_5xx_reconnects_after_a_backoff_and_keeps_the_reason(make_worker, fake_backend):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    session.emit(RetryLater(reasons.connect_failure(503)))
    wait_until(lambda: w.status().last_error == "connect_failure: 503 service unavailable")
    assert w.state == CONNECTING and session.stopped.is_set()
    second = fake_backend.wait_session(2, timeout=3)  # backoff 0.8-1.2 s, not CLOSED
    drive_to_ready(second)
    assert w.wait_for_state({READY}, 5)


def test_missed_keepalives_leave_a_ready_client_ready_until_whatsmeow_drops_the_socket(make_worker, fake_backend,
                                                                                      sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    session.emit(KeepAliveMissed(1))
    wait_until(lambda: w.status().last_error == "keepalive_timeout: 1 missed")
    session.emit(KeepAliveMissed(2))
    wait_until(lambda: w.status().last_error == "keepalive_timeout: 2 missed")
    assert w.state == READY and sqlite_store.get_client("alice").state == READY
    session.emit(KeepAliveRestored())
    wait_until(lambda: w.status().last_error is None)
    assert w.state == READY
    session.emit(KeepAliveMissed(1))
    session.emit(Disconnected("keepalive_timeout"))  # past whatsmeow's limit (wa_reasons decides)
    assert w.wait_for_state({CONNECTING}, 5)
    assert w.status().last_error == "keepalive_timeout"


def test_a_missed_keepalive_while_connecting_changes_nothing(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    session.emit(Disconnected("disconnected"))
    assert w.wait_for_state({CONNECTING}, 5)
    before = sqlite_store.get_client("alice").updated_at
    session.emit(KeepAliveMissed(1))
    session.emit(KeepAliveRestored())
    session.emit(Disconnected("disconnected"))  # the worker has handled everything before this one
    wait_until(lambda: sqlite_store.get_client("alice").updated_at != before)
    assert (w.state, w.status().last_error) == (CONNECTING, "disconnected")


def test_seconds_until_a_ban_ends_is_never_negative():
    now = datetime.now(timezone.utc)
    assert reasons.seconds_until(None) == 0.0
    assert reasons.seconds_until(now - timedelta(seconds=5)) == 0.0
    assert 99.0 < reasons.seconds_until(now + timedelta(seconds=100)) <= 100.0


GO_DIAL_ERROR = ("failed to connect: failed to dial whatsapp web websocket: proxyconnect tcp: dial tcp "
                 "127.0.0.1:9: connect: connection refused; then: failed to dial whatsapp web websocket: "
                 "dial tcp: lookup web.whatsapp.com on 127.0.0.53:53: no such host (after 3 attempts)")


def test_a_long_library_error_is_cut_after_a_whole_word_with_an_ellipsis():
    """An offline client's lastError is a Go error chain of ~250 characters: it must not end mid-word."""
    clipped = reasons.clip(GO_DIAL_ERROR)
    assert len(clipped) <= reasons.REASON_LIMIT and clipped.endswith("…")
    kept = clipped[:-1]
    assert GO_DIAL_ERROR.startswith(kept) and GO_DIAL_ERROR[len(kept)] == " "  # the next character is a space
    assert not kept.endswith((" ", ":", ";"))


def test_a_short_error_is_kept_whole_on_one_line():
    assert reasons.clip("dial tcp:\n  connection   refused") == "dial tcp: connection refused"
    assert reasons.clip("x" * reasons.REASON_LIMIT) == "x" * reasons.REASON_LIMIT


def test_one_very_long_word_is_cut_where_the_limit_is():
    """A token without spaces (a URL, a base64 blob) is cut at the limit rather than dropped."""
    clipped = reasons.clip("see " + "a" * 500, limit=50)
    assert len(clipped) == 50 and clipped.startswith("see aaa") and clipped.endswith("…")
