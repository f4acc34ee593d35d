"""The neonize backend with the real library, offline: real event protobufs, real dials that fail,
real session files, a churn stress in a child process, and `python wsgi.py` on the default backend.
Also the lock and the log router it is built on (golock.py, golog.py).
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import send_and_wait
from tests.server_process import ROOT, ServerProcess
from tests.offline import require_offline_proxy
from wamulti.sessions import session_file
from wamulti.backends import backend_api as bk
from wamulti.config import Settings
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord
from wamulti.clients.states import CLOSED, CONNECTING, READY, SYNCING
from wamulti.clients.worker import ClientWorker

require_offline_proxy()

neonize_events = pytest.importorskip("neonize.events")
from neonize.proto.Neonize_pb2 import JID, ConnectFailureReason, LogEntry  # noqa: E402

from wamulti.backends.neonize.golock import GoLock  # noqa: E402
from wamulti.backends.neonize.golog import GoLogRouter  # noqa: E402
from wamulti.backends.neonize.neonize_backend import NeonizeBackend, NeonizeSession  # noqa: E402
from wamulti.backends.neonize.starts import LockBounds  # noqa: E402
from wamulti.seams import neonize_internals  # noqa: E402

ev = neonize_events


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def feed(session: NeonizeSession, event) -> None:
    """Deliver a real event protobuf through the client's own event entry point (as Go does; a
    Device is what Go sends first, the account FetchMe read)."""
    data = event.SerializePartialToString()
    buf = ctypes.create_string_buffer(data, len(data))
    code = 0 if type(event).__name__ == "Device" else ev.EVENT_TO_INT[type(event)]
    session.client.event.execute(session.client.uuid, ctypes.addressof(buf), len(data), code)


def in_thread(fn) -> threading.Event:
    """Run fn on a new daemon thread; the event is set once fn has returned."""
    done = threading.Event()
    threading.Thread(target=lambda: (fn(), done.set()), daemon=True).start()
    return done


def show_qr(session: NeonizeSession, data: bytes) -> None:
    """Deliver a QR code through the entry point Go calls (neonize has no public one: the seam's)."""
    neonize_internals.show_qr(session.client, data)


def go_log(callback, message: str, level: str = "DEBUG", name: str = "Client/Socket") -> None:
    """Call a Go log callback the way Go does: with the address and size of a serialized LogEntry."""
    data = LogEntry(Level=level, Name=name, Message=message).SerializeToString()
    buf = ctypes.create_string_buffer(data, len(data))
    callback(ctypes.addressof(buf), len(data))


class HeldConnectionSession(NeonizeSession):
    """Test double: the real session, except that the library's connect() holds instead of dialling
    (no network here). Like the library it enters the start protocol where Neonize would enter Go,
    logs "Dialing" (the client registered), then calls back with the account (what Go does after
    a handshake, past its last map read; this ends the start), and holds until stopped."""

    def __init__(self, *args):
        super().__init__(*args)
        self.held = threading.Event()
        self.client.connect = self.hold_instead_of_dialling

    def hold_instead_of_dialling(self) -> None:
        import neonize.client

        from neonize.proto.Neonize_pb2 import Device

        self.entering_start()
        try:
            go_log(neonize.client.log_whatsmeow, "Dialing wss://web.whatsapp.com/ws/chat")
            feed(self, Device(PushName="held"))
            self.held.wait()
        finally:
            self.start_returned()

    def stop(self) -> None:
        super().stop()
        self.held.set()


class HeldConnectionBackend(NeonizeBackend):
    """Test double: the real backend handing out HeldConnectionSessions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sessions: list[HeldConnectionSession] = []
        self.created = threading.Condition()

    def new_session(self, client_id, session_path, emit):
        session = HeldConnectionSession(self, client_id, Path(session_path), emit)
        with self.created:
            self.sessions.append(session)
            self.created.notify_all()
        return session

    def new_pairing_session(self, client_id, session_path, emit):
        """These tests drive pairing events in-process (the pairing child has tests of its own)."""
        return self.new_session(client_id, session_path, emit)

    def wait_session(self, count: int, timeout: float = 5.0) -> HeldConnectionSession:
        with self.created:
            assert self.created.wait_for(lambda: len(self.sessions) >= count, timeout)
            return self.sessions[count - 1]


@pytest.fixture
def settings(tmp_path):
    return Settings(api_key="k" * 16, data_dir=tmp_path / "data", log_level="WARNING")


@pytest.fixture
def store(settings):
    s = open_store(settings)
    yield s
    s.close()


def make_whatsmeow_file(backend: NeonizeBackend, path: Path) -> None:
    """Let the real library create its session database (an offline dial creates the tables)."""
    session = backend.new_session("maker", path, lambda e: None)
    with pytest.raises(bk.ConnectFailed):
        session.connect()
    session.stop()


def sqlite_check(path: Path) -> str:
    """integrity_check in a child process (never sqlite3 in the process that runs Go's SQLite)."""
    code = ("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
            "print(c.execute('pragma integrity_check').fetchone()[0], "
            "c.execute(\"select count(*) from sqlite_master where name like 'whatsmeow_%'\").fetchone()[0])")
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


# ---- events -> backend events ------------------------------------------------------------------
def test_real_events_map_to_backend_events(settings):
    backend = NeonizeBackend(settings, sync_fallback=30)
    got: list[bk.Event] = []
    session = backend.new_session("ev", settings.data_dir / "ev.session", got.append)
    feed(session, ev.PairStatusEv(Status=ev.PairStatusEv.SUCCESS, ID=JID(User="4915123456789", Server="s.whatsapp.net")))
    feed(session, ev.PairStatusEv(Status=ev.PairStatusEv.ERROR, Error="code expired"))
    feed(session, ev.ConnectedEv(status=True))
    feed(session, ev.OfflineSyncCompletedEv(Count=3))
    feed(session, ev.DisconnectedEv())
    feed(session, ev.KeepAliveTimeoutEv(ErrorCount=2, LastSuccess=int(time.time()) - 40))
    feed(session, ev.KeepAliveRestoredEv())
    feed(session, ev.StreamReplacedEv())
    feed(session, ev.ConnectFailureEv(Message="device removed"))
    feed(session, ev.ClientOutdatedEv())
    feed(session, ev.LoggedOutEv(Reason=ConnectFailureReason.LOGGED_OUT))
    assert got == [  # WhatsApp's reasons in detail: tests/test_reasons.py
        bk.PairSuccess("4915123456789@s.whatsapp.net"), bk.PairFailed("code expired"), bk.Connected(),
        bk.SyncCompleted(), bk.Disconnected("disconnected"), bk.KeepAliveMissed(2), bk.KeepAliveRestored(),
        bk.Terminated("stream_replaced"), bk.Terminated("connect_failure: unknown reason (device removed)"),
        bk.Terminated("client_outdated"), bk.LoggedOut("logged_out: 401 unlinked from the phone"),
    ]
    session.stop()
    backend.close()


def test_sync_fallback_timer_fires_once_and_is_cancelled_by_stop(settings):
    backend = NeonizeBackend(settings, sync_fallback=0.3)
    got: list[bk.Event] = []
    done = threading.Event()
    session = backend.new_session("sync", settings.data_dir / "s.session",
                                  lambda e: (got.append(e), isinstance(e, bk.SyncCompleted) and done.set()))
    feed(session, ev.ConnectedEv(status=True))
    assert done.wait(3), "the fallback timer must make a client READY without OfflineSyncCompleted"
    assert got == [bk.Connected(), bk.SyncCompleted()]
    other: list[bk.Event] = []
    second = backend.new_session("sync2", settings.data_dir / "s2.session", other.append)
    feed(second, ev.ConnectedEv(status=True))
    second.stop()
    time.sleep(0.6)  # twice the fallback delay: a cancelled timer stays silent
    assert other == [bk.Connected()]
    session.stop()
    backend.close()


# ---- the lock around every Go call (golock.py) ------------------------------------------------
BLOCKED = 0.3  # how long a thread must stay blocked to count as waiting


def test_golock_exclusive_hold_released_from_another_thread_frees_the_lock():
    lock = GoLock()
    lock.acquire_exclusive()  # a start, on the connection thread
    reader = in_thread(lock.acquire_shared)
    assert not reader.wait(BLOCKED)
    assert in_thread(lock.release_exclusive).wait(2)  # the log thread saw "Dialing"
    assert reader.wait(2)
    lock.release_shared()


def test_golock_readers_share_and_a_writer_waits_for_every_one_of_them():
    lock = GoLock()
    lock.acquire_shared()
    assert in_thread(lock.acquire_shared).wait(2), "two readers at once"
    writer = in_thread(lock.acquire_exclusive)
    assert not writer.wait(BLOCKED)
    lock.release_shared()
    assert not writer.wait(BLOCKED), "one reader still holds the lock"
    lock.release_shared()
    assert writer.wait(2)
    lock.release_exclusive()


def test_golock_writer_excludes_readers_and_other_writers():
    lock = GoLock()
    with lock.exclusive():
        reader = in_thread(lock.acquire_shared)
        writer = in_thread(lock.acquire_exclusive)
        assert not reader.wait(BLOCKED) and not writer.wait(0)
    assert writer.wait(2), "leaving the block releases"
    assert not reader.wait(BLOCKED), "the waiting writer went first and holds it alone"
    lock.release_exclusive()
    assert reader.wait(2)
    lock.release_shared()


def test_golock_waiting_writer_goes_before_readers_that_come_later():
    lock = GoLock()
    lock.acquire_shared()
    writer = in_thread(lock.acquire_exclusive)
    assert not writer.wait(BLOCKED)
    late_reader = in_thread(lock.acquire_shared)
    assert not late_reader.wait(BLOCKED), "a steady flow of readers must not starve a stop"
    lock.release_shared()
    assert writer.wait(2) and not late_reader.wait(BLOCKED)
    lock.release_exclusive()
    assert late_reader.wait(2)
    lock.release_shared()


def test_golock_block_releases_on_an_exception():
    lock = GoLock()
    with pytest.raises(RuntimeError):
        with lock.shared():
            raise RuntimeError("send failed")
    assert in_thread(lock.acquire_exclusive).wait(2)


# ---- Go's log lines (golog.py) and the start they end ---------------------------------------------
def test_go_log_router_tags_lines_with_their_client_and_passes_on_its_level_and_up(caplog):
    caplog.set_level(logging.DEBUG, logger="whatsmeow")
    dialing: list[str] = []
    router = GoLogRouter(logging.WARNING, dialing.append, LogEntry.FromString)
    a, b = router.callback_for("a"), router.callback_for("b")
    go_log(a, "Dialing wss://web.whatsapp.com/ws/chat")
    go_log(b, "keepalive timed out", level="WARN")
    go_log(a, "database is locked", level="ERROR", name="Database")
    go_log(b, "Dialing wss://web.whatsapp.com/ws/chat", level="INFO")
    router.close()  # after the lines already queued
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("whatsmeow")] == [
        ("whatsmeow.Client.Socket", logging.WARNING, "[b] keepalive timed out"),
        ("whatsmeow.Database", logging.ERROR, "[a] database is locked"),
    ]
    assert dialing == ["a", "b"], "Dialing is reported at any level"


def test_go_log_router_skips_empty_and_undecodable_lines_and_keeps_routing(caplog):
    caplog.set_level(logging.DEBUG, logger="wamulti.backends.neonize.neonize_backend")
    dialing: list[str] = []
    router = GoLogRouter(logging.WARNING, dialing.append, LogEntry.FromString)
    on_log = router.callback_for("c")
    on_log(0, 0)  # a null line from Go
    garbage = ctypes.create_string_buffer(b"\xff\xff\xff", 3)
    on_log(ctypes.addressof(garbage), 3)
    go_log(on_log, "Dialing wss://web.whatsapp.com/ws/chat")
    router.close()
    assert dialing == ["c"], "the router survived the undecodable line"
    assert [r.getMessage() for r in caplog.records if r.name == "wamulti.backends.neonize.neonize_backend"] == [
        "undecodable Go log line"]


def test_a_start_is_exclusive_until_its_socket_logs_dialing_then_keeps_only_writers_out(settings):
    import neonize.client

    backend = NeonizeBackend(settings, bounds=LockBounds(0.1, 60, 60, 60))  # no bound ends this start here
    lock = backend.lock
    session = backend.new_session("dial", settings.data_dir / "dial.session", lambda e: None)
    start = backend.begin_start(session)
    assert start.enter()  # what GoCalls does right before Neonize enters Go
    sender = in_thread(lock.acquire_shared)
    go_log(neonize.client.log_whatsmeow, "Connecting to the proxy")
    assert not sender.wait(BLOCKED), "while Go registers the client nothing else runs"
    go_log(neonize.client.log_whatsmeow, "Dialing wss://web.whatsapp.com/ws/chat")
    assert sender.wait(2), "the Go side registered the client: lookups may come in"
    stopper = in_thread(lock.acquire_exclusive)
    assert not stopper.wait(BLOCKED), "a writer waits until the start's Go code has read the maps"
    assert in_thread(lock.acquire_shared).wait(2), "a waiting writer does not bar lookups during a dial"
    lock.release_shared()
    lock.release_shared()
    backend.end_start(session)
    assert stopper.wait(2), "the start is over: the writer goes"
    lock.release_exclusive()
    backend.end_start(session)  # idempotent: the start is already over
    assert in_thread(lambda: backend.begin_start(session)).wait(2), "the start gate was released too"
    backend.end_start(session)
    session.stop()
    backend.close()


# ---- the whole state machine, driven by real events through a worker ----------------------------
@pytest.fixture
def held_backend(settings):
    backend = HeldConnectionBackend(settings, sync_fallback=0.3)
    yield backend
    backend.close()


def start_worker(store, held_backend, settings, *, jid=None, phone=None, pairing_timeout=30.0, events=None):
    from tests.fake_backend import FakePrompter

    record = store.create_client(ClientRecord("w1", CONNECTING, phone=phone, jid=jid))
    worker = ClientWorker(record, backend=held_backend, store=store, prompter=FakePrompter(),
                          data_dir=settings.data_dir, pairing_timeout=pairing_timeout, snapshot_interval=0.2,
                          events=events)
    return worker


def test_state_machine_from_real_events_with_logout_removing_keys(store, held_backend, settings):
    real = NeonizeBackend(settings)
    source = settings.data_dir / "source.session"
    make_whatsmeow_file(real, source)
    snap = session_file.read_snapshot(source)
    worker = start_worker(store, held_backend, settings, jid="4915123456789@s.whatsapp.net")
    store.save_snapshot("w1", snap.data, snap.sha256)
    worker.start()
    try:
        session = held_backend.wait_session(1)
        assert worker.session_path.read_bytes()[:16] == b"SQLite format 3\x00"
        feed(session, ev.ConnectedEv(status=True))
        assert worker.wait_for_state({SYNCING}, 5)
        feed(session, ev.OfflineSyncCompletedEv(Count=0))
        assert worker.wait_for_state({READY}, 5)
        feed(session, ev.DisconnectedEv())
        assert worker.wait_for_state({CONNECTING}, 5)
        feed(session, ev.ConnectedEv(status=True))  # whatsmeow reconnected by itself
        assert worker.wait_for_state({SYNCING}, 5)
        assert worker.wait_for_state({READY}, 5), "sync fallback timer"
        with pytest.raises(Exception) as err:  # a send on a held (never dialled) connection
            send_and_wait(worker, "4915000000000@s.whatsapp.net", "hi")
        assert err.value.__class__.__name__ == "Upstream"
        assert worker.state == READY, "a failed send must not change the state"
        feed(session, ev.LoggedOutEv(Reason=ConnectFailureReason.MAIN_DEVICE_GONE))
        assert worker.wait_for_state({CLOSED}, 5)
        assert worker.join(10)
        status = worker.status()
        assert (status.last_error, status.jid) == ("logged_out: 403 account locked", None)
        assert not worker.session_path.exists()
        assert store.load_snapshot("w1") is None
        assert session.stopped
    finally:
        worker.stop()
        worker.join(10)
        real.close()


def test_real_messages_and_receipts_reach_the_event_log_through_a_worker(store, held_backend, settings):
    from neonize.proto.Neonize_pb2 import Receipt
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

    from tests.test_neonize_events import PHONE, incoming, receipt
    from tests.test_worker_hearing import RecordingSink

    sink = RecordingSink()
    worker = start_worker(store, held_backend, settings, jid="4915123456789@s.whatsapp.net", events=sink)
    real = NeonizeBackend(settings)
    make_whatsmeow_file(real, settings.data_dir / "source.session")
    real.close()
    snap = session_file.read_snapshot(settings.data_dir / "source.session")
    store.save_snapshot("w1", snap.data, snap.sha256)
    worker.start()
    try:
        session = held_backend.wait_session(1)
        feed(session, ev.ConnectedEv(status=True))
        feed(session, ev.OfflineSyncCompletedEv(Count=0))
        assert worker.wait_for_state({READY}, 5)
        feed(session, incoming(e2e.Message(conversation="hallo 👋")))
        feed(session, receipt(Receipt.READ, ids=("3EB0A",)))
        [message] = sink.of_type("message")
        assert (message["text"], message["from"], message["kind"]) == ("hallo 👋", PHONE, "text")
        assert sink.acks() == [("3EB0A", "read")]
        assert {t for _, t, _, _ in sink.published} == {"client.state", "message", "message.ack"}
    finally:
        worker.stop()
        worker.join(10)


def test_pairing_events_through_a_worker(store, held_backend, settings):
    real = NeonizeBackend(settings)
    worker = start_worker(store, held_backend, settings, phone="4915123456789")
    worker.start(phone="4915123456789")
    try:
        session = held_backend.wait_session(1)
        make_whatsmeow_file(real, worker.session_path)  # what the library writes while pairing
        feed(session, ev.PairStatusEv(Status=ev.PairStatusEv.SUCCESS,
                                      ID=JID(User="4915123456789", Server="s.whatsapp.net")))
        deadline = time.monotonic() + 5
        while store.load_snapshot("w1") is None and time.monotonic() < deadline:
            time.sleep(0.02)  # saved by the worker thread right after the event
        snap = store.load_snapshot("w1")
        assert snap is not None and worker.status().jid == "4915123456789@s.whatsapp.net"
        feed(session, ev.StreamReplacedEv())
        assert worker.wait_for_state({CLOSED}, 5)
        assert worker.status().last_error == "stream_replaced"
        assert store.load_snapshot("w1") is not None, "a non-logout close keeps the keys"
    finally:
        worker.stop()
        worker.join(10)
        real.close()


def test_phone_pairing_without_a_connection_fails_cleanly(store, held_backend, settings):
    worker = start_worker(store, held_backend, settings, phone="4915123456789")
    worker.start(phone="4915123456789")
    try:
        session = held_backend.wait_session(1)
        show_qr(session, b"2@qr-from-go")
        assert worker.wait_for_state({CLOSED}, 5)
        assert worker.status().last_error.startswith("pairing_failed:")
    finally:
        worker.stop()
        worker.join(10)


# ---- offline: real dials --------------------------------------------------------------------------
def test_offline_connect_fails_fast_with_reason_and_leaks_one_fd_per_attempt(settings):
    backend = NeonizeBackend(settings)
    before = open_fds()
    reasons, started = [], time.monotonic()
    for i in range(10):
        session = backend.new_session("off", settings.data_dir / "off.session", lambda e: None)
        with pytest.raises(bk.ConnectFailed) as err:
            session.connect()
        reasons.append(str(err.value))
        session.stop()
        session.stop()  # idempotent
        with pytest.raises(bk.NotConnected):
            session.send_text("4915123456789@s.whatsapp.net", "x")
    per_attempt = (open_fds() - before) / 10
    print(f"\noffline dial: {(time.monotonic() - started) / 10 * 1000:.1f} ms per connect+stop, "
          f"{per_attempt:.1f} fds leaked per attempt")
    assert all("dial tcp 127.0.0.1:9" in r for r in reasons), reasons[0]  # the loopback proxy, no DNS
    assert len(reasons[0]) <= 200
    assert per_attempt <= 1.0, "more than the known leak of one descriptor per attempt"
    never = backend.new_session("never", settings.data_dir / "never.session", lambda e: None)
    never.stop()  # a session that never connected stops without touching Go
    backend.close()


def test_dial_budget_stops_dialling(settings):
    backend = NeonizeBackend(settings, dial_budget=2)
    for _ in range(2):
        session = backend.new_session("b", settings.data_dir / "b.session", lambda e: None)
        with pytest.raises(bk.ConnectFailed, match="dial"):
            session.connect()
        session.stop()
    before = open_fds()
    session = backend.new_session("b", settings.data_dir / "b.session", lambda e: None)
    with pytest.raises(bk.ConnectFailed, match="dialling_paused: 2 failed dials"):
        session.connect()
    session.stop()
    assert open_fds() == before
    backend.close()


def test_default_dial_budget_is_half_the_raised_descriptor_limit(settings):
    backend = NeonizeBackend(settings)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard or hard == resource.RLIM_INFINITY, "raised to the hard limit"
    assert backend.dial_budget == (soft if soft != resource.RLIM_INFINITY else 65536) // 2
    backend.close()


def test_a_paired_worker_waits_for_the_network_instead_of_dialling_again(store, settings):
    """A real dial fails at the dead loopback proxy: the gate closes, the client waits (no dial, not CLOSED)."""
    backend = NeonizeBackend(settings)
    maker = NeonizeBackend(settings)
    make_whatsmeow_file(maker, settings.data_dir / "sessions" / "w1.session")
    maker.close()
    dials = []
    real_new = backend.new_session
    backend.new_session = lambda *a: (dials.append(time.monotonic()), real_new(*a))[1]
    worker = start_worker(store, backend, settings, jid="4915123456789@s.whatsapp.net")
    worker.start()
    try:
        deadline = time.monotonic() + 15
        while not (worker.status().last_error or "").startswith("waiting_for_network: proxyconnect tcp: dial"):
            assert time.monotonic() < deadline, worker.status()
            time.sleep(0.05)
        time.sleep(3.0)  # the backoff would have dialled twice more by now
        assert len(dials) == 1 and worker.status().state == CONNECTING
        assert "connection refused" in worker.status().last_error and backend.connectivity.waiting == 1
    finally:
        worker.stop()
        worker.join(10)
        backend.close()
    assert backend.connectivity.waiting == 0, "a stopped client no longer waits"


def test_snapshot_of_a_real_whatsmeow_file_round_trips(settings, tmp_path):
    backend = NeonizeBackend(settings)
    path = settings.data_dir / "real.session"
    make_whatsmeow_file(backend, path)
    size = path.stat().st_size
    snap = session_file.read_snapshot(path)
    restored = tmp_path / "restored.session"
    session_file.restore_snapshot(restored, snap.data)
    assert sqlite_check(restored).split() == ["ok", sqlite_check(path).split()[1]]
    reopened = backend.new_session("reopen", restored, lambda e: None)
    with pytest.raises(bk.ConnectFailed, match="dial"):  # opened the file, then failed only at the network
        reopened.connect()
    reopened.stop()
    print(f"\nwhatsmeow file: {size} bytes, snapshot {len(snap.data)} bytes compressed")
    backend.close()


# ---- churn in a child process: a Go fatal error there fails the test instead of killing pytest ----
CHURN = r"""
import sys, threading, time, logging
sys.path.insert(0, sys.argv[1])
logging.basicConfig(level=logging.ERROR)
from pathlib import Path
from wamulti.config import Settings
from wamulti.backends.neonize.neonize_backend import NeonizeBackend
from wamulti.backends.backend_api import ConnectFailed
data = Path(sys.argv[2]); seconds = float(sys.argv[3])
backend = NeonizeBackend(Settings(api_key="k" * 16, data_dir=data, log_level="ERROR"))
cycles = [0] * 20
end = time.monotonic() + seconds
def churn(n):
    while time.monotonic() < end:
        s = backend.new_session(f"c{n}", data / f"c{n}.session", lambda e: None)
        try:
            s.connect()
        except ConnectFailed:
            pass
        s.stop()
        cycles[n] += 1
        time.sleep(0.25)  # bounded: every failed dial leaks a descriptor in the library
threads = [threading.Thread(target=churn, args=(n,)) for n in range(20)]
for t in threads: t.start()
for t in threads: t.join()
print("CYCLES", sum(cycles), min(cycles))
"""


@pytest.mark.slow
def test_churn_of_20_sessions_for_30_seconds_survives(tmp_path):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", CHURN, str(ROOT), str(tmp_path), "30"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"churn child died ({done.returncode}):\n{done.stderr[-3000:]}"
    total, least = map(int, done.stdout.split("CYCLES")[1].split())
    print(f"\nchurn: {total} connect/stop cycles by 20 sessions in {time.monotonic() - started:.1f}s "
          f"(fewest per session {least})")
    assert total >= 400 and least >= 10


# ---- the server on its default backend ----------------------------------------------------------
@pytest.mark.slow
def test_wsgi_with_neonize_offline(tmp_path):
    server = ServerProcess(tmp_path / "data", {"WA_BACKEND": "neonize"}).start()
    try:
        resp = server.request("POST", "/api/clients", {"clientId": "real", "phone": "+49 151 2345678"})
        assert resp.status == 201, resp
        client = server.wait_for(lambda: (lambda c: c if (c["lastError"] or "").startswith("connect_failed") else None)(
            server.request("GET", "/api/clients/real").json), 20, "connect_failed")
        assert client["state"] == "CONNECTING" and client["pairingCode"] is None
        send = server.request("POST", "/api/messages/send", {"clientId": "real", "to": "+4915123456789", "text": "hi"})
        assert send.status == 503 and send.json["currentState"] == "CONNECTING"
        assert server.request("POST", "/api/clients", {"clientId": "other", "phone": "+4915199999999"}).status == 201
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # a minute of retries with backoff: the process must survive
            assert server.proc.poll() is None, server.log()[-3000:]
            assert server.request("GET", "/healthz", key=None).status == 200
            time.sleep(5)
        started = time.monotonic()
        assert server.request("DELETE", "/api/clients/real").status == 200
        assert time.monotonic() - started < 2
        assert [c["clientId"] for c in server.clients()] == ["other"]
        code, seconds = server.terminate()
        assert code == 0 and seconds < 10, server.log()[-3000:]
        assert "Traceback" not in server.log()
    finally:
        server.close()
