"""WhatsApp's reasons from the real library, offline: real event protobufs through the client's own
entry point (`client.event.execute`), a worker driven by them, Go's log level per session, and a
start that ends at its first event. Dials go to a closed loopback proxy (./scripts/test).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.test_neonize_backend import (BLOCKED, HeldConnectionBackend, feed, in_thread,  # skips unless offline
                                        make_whatsmeow_file, start_worker)
from wamulti.sessions import session_file
from wamulti.backends import backend_api as bk
from wamulti.backends.neonize.neonize_backend import NeonizeBackend
from wamulti.config import Settings
from wamulti.store import open_store
from wamulti.clients.states import CONNECTING, READY, SYNCING

from neonize.events import (ConnectFailureEv, ConnectedEv, KeepAliveRestoredEv, KeepAliveTimeoutEv,  # noqa: I001
                            LoggedOutEv, OfflineSyncCompletedEv, TemporaryBanEv)
from neonize.proto.Neonize_pb2 import ConnectFailureReason as Why, Node, NodeAttrs

JID = "4915123456789@s.whatsapp.net"


@pytest.fixture
def settings(tmp_path):
    return Settings(api_key="k" * 16, data_dir=tmp_path / "data", log_level="WARNING")


@pytest.fixture
def backend(settings):
    b = NeonizeBackend(settings)
    yield b
    b.close()


@pytest.fixture
def store(settings):
    s = open_store(settings)
    yield s
    s.close()


def translated(backend, settings, *events) -> list[bk.Event]:
    got: list[bk.Event] = []
    session = backend.new_session("r", settings.data_dir / "r.session", got.append)
    for event in events:
        feed(session, event)
    session.stop()
    return got


def test_logged_out_keeps_the_code_whatsapp_gave(backend, settings):
    got = translated(backend, settings, LoggedOutEv(OnConnect=True, Reason=Why.LOGGED_OUT),
                     LoggedOutEv(OnConnect=True, Reason=Why.MAIN_DEVICE_GONE),
                     LoggedOutEv(OnConnect=True, Reason=Why.UNKNOWN_LOGOUT),
                     LoggedOutEv(OnConnect=False))  # a code the Go encoder does not know arrives unset
    assert [e.reason for e in got] == ["logged_out: 401 unlinked from the phone", "logged_out: 403 account locked",
                                       "logged_out: 406 banned", "logged_out: unknown reason"]
    assert all(isinstance(e, bk.LoggedOut) for e in got)


def test_connect_failures_5xx_retry_and_the_raw_node_gives_the_exact_code(backend, settings):
    raw = Node(Tag="failure", Attrs=[NodeAttrs(name="reason", text="415"), NodeAttrs(name="location", text="frc")])
    got = translated(backend, settings, ConnectFailureEv(Reason=Why.SERVICE_UNAVAILABLE),
                     ConnectFailureEv(Reason=Why.BAD_USER_AGENT, Message="bad ua"),
                     ConnectFailureEv(Message="nope", Raw=raw),
                     ConnectFailureEv(Raw=Node(Tag="failure", Attrs=[NodeAttrs(name="reason", integer=501)])))
    assert got == [bk.RetryLater("connect_failure: 503 service unavailable"),
                   bk.Terminated("connect_failure: 409 user agent rejected (bad ua)"),
                   bk.Terminated("connect_failure: 415 not found (nope)"),
                   bk.RetryLater("connect_failure: 501 experimental")]


def test_a_temporary_ban_keeps_its_code_and_expiry(backend, settings):
    now = datetime.now(timezone.utc)
    got = translated(backend, settings, TemporaryBanEv(Code=TemporaryBanEv.SEND_TO_TOO_MANY_PEOPLE, Expire=7200),
                     TemporaryBanEv(Code=TemporaryBanEv.BROADCAST_LIST))
    first, second = got
    assert first.reason.startswith("temporary_ban: 101 too many messages to people who do not have the number saved")
    assert timedelta(seconds=7199) < first.retry_at - now < timedelta(seconds=7203)
    assert second.reason.startswith("temporary_ban: 106 ") and \
        timedelta(seconds=3599) < second.retry_at - now < timedelta(seconds=3603), "no expiry given: an hour"


def test_keepalive_timeouts_are_misses_until_whatsmeows_own_limit(backend, settings):
    now = int(time.time())
    got = translated(backend, settings, KeepAliveTimeoutEv(ErrorCount=1, LastSuccess=now - 30),
                     KeepAliveTimeoutEv(ErrorCount=7, LastSuccess=now - 200), KeepAliveRestoredEv())
    assert got == [bk.KeepAliveMissed(1), bk.Disconnected("keepalive_timeout"), bk.KeepAliveRestored()]


def test_through_a_worker_a_missed_keepalive_stays_ready_and_a_ban_waits(store, settings):
    held = HeldConnectionBackend(settings, sync_fallback=30)
    real = NeonizeBackend(settings)
    make_whatsmeow_file(real, settings.data_dir / "source.session")
    real.close()
    snap = session_file.read_snapshot(settings.data_dir / "source.session")
    worker = start_worker(store, held, settings, jid=JID)
    store.save_snapshot("w1", snap.data, snap.sha256)
    worker.start()
    try:
        session = held.wait_session(1)
        feed(session, ConnectedEv(status=True))
        feed(session, OfflineSyncCompletedEv(Count=0))
        assert worker.wait_for_state({READY}, 5)
        feed(session, KeepAliveTimeoutEv(ErrorCount=1, LastSuccess=int(time.time()) - 25))
        time.sleep(0.3)
        assert (worker.state, worker.status().last_error) == (READY, "keepalive_timeout: 1 missed")
        feed(session, KeepAliveRestoredEv())
        feed(session, TemporaryBanEv(Code=TemporaryBanEv.BLOCKED_BY_USERS, Expire=1))
        assert worker.wait_for_state({CONNECTING}, 5)
        status = worker.status()
        assert status.last_error.startswith("temporary_ban: 102 blocked by too many people (until ")
        assert status.retry_at is not None and session.stopped
        second = held.wait_session(2, timeout=5)
        assert datetime.now(timezone.utc) >= status.retry_at - timedelta(seconds=0.1), "not before it expires"
        feed(second, ConnectedEv(status=True))
        assert worker.wait_for_state({SYNCING, READY}, 5)
    finally:
        worker.stop()
        worker.join(10)
        held.close()


# ---- Go's log level -------------------------------------------------------------------------------
@pytest.mark.parametrize("log_level, go_lines", [("WARNING", 0), ("DEBUG", 1)])
def test_go_logs_at_warning_unless_log_level_is_debug(tmp_path, log_level, go_lines):
    """A real dial (failing at the loopback proxy): at DEBUG Go hands over its "Dialing" line, at WARNING nothing."""
    settings = Settings(api_key="k" * 16, data_dir=tmp_path, log_level=log_level)
    backend = NeonizeBackend(settings)
    try:
        assert logging.getLogger("neonize.utils.log").level == logging.getLevelName(log_level)
        session = backend.new_session("lv", tmp_path / "lv.session", lambda e: None)
        with pytest.raises(bk.ConnectFailed):
            session.connect()
        session.stop()
        time.sleep(0.3)  # the router thread
        assert sum(backend._router.counts.values()) == go_lines
    finally:
        backend.close()


def test_a_start_ends_at_its_first_event_when_go_does_not_log_dialing(backend, settings):
    session = backend.new_session("first", settings.data_dir / "first.session", lambda e: None)
    session._start = backend.begin_start(session)  # what connect() does first
    session.entering_start()  # what GoCalls does right before Neonize enters Go
    sender = in_thread(backend.lock.acquire_shared)
    assert not sender.wait(BLOCKED), "a start keeps every other call out"
    feed(session, LoggedOutEv(OnConnect=True, Reason=Why.LOGGED_OUT))  # e.g. right after the handshake
    assert sender.wait(2), "the first event ends the start"
    backend.lock.release_shared()
    session.stop()


# ---- DELETE with the real library -------------------------------------------------------------------
def test_delete_of_a_closed_linked_client_tries_to_log_out_and_says_the_phone_still_lists_it(store, backend,
                                                                                          settings):
    """The stored keys are restored, a real dial fails at the loopback proxy: unlinked false, keys gone."""
    from tests.fake_backend import FakePrompter
    from wamulti.store.store_api import ClientRecord
    from wamulti.clients.states import CLOSED
    from wamulti.clients.worker import ClientWorker

    make_whatsmeow_file(backend, settings.data_dir / "source.session")
    snap = session_file.read_snapshot(settings.data_dir / "source.session")
    record = store.create_client(ClientRecord("gone", CLOSED, jid=JID, last_error="stream_replaced"))
    store.save_snapshot("gone", snap.data, snap.sha256)
    worker = ClientWorker(record, backend=backend, store=store, prompter=FakePrompter(), data_dir=settings.data_dir,
                          pairing_timeout=30)
    started = time.monotonic()
    outcome = worker.delete()
    assert time.monotonic() - started < 5
    assert outcome.unlinked is False
    assert "connect failed: failed to dial whatsapp web websocket" in outcome.message
    assert outcome.message.endswith("The phone still lists this device under Linked devices: remove it there.")
    assert store.get_client("gone") is None and store.load_snapshot("gone") is None
    assert not worker.session_path.exists()
