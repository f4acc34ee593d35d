"""DELETE tries to unlink the device at WhatsApp, bounded, and says whether the phone still lists it.

FakeBackend on the real SQLite store for each case (connected, reconnecting, closed after a restart
with only the store's keys, never linked, WhatsApp not answering, the store down), then the real
simulator through a registry. The real neonize path (a dial that fails offline) is in
tests/test_neonize_reasons.py.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib

import pytest

from tests.conftest import FlakyStore, wait_until
from tests.fake_backend import FakePrompter
from tests.test_reasons import JID, pair_and_get_ready
from wamulti.backends.backend_api import Connected, Disconnected, LoggedOut, Terminated
from wamulti.backends.simulator.sim_backend import SimulatorBackend
from wamulti.clients.registry import ClientRegistry
from wamulti.store.store_api import StoreUnavailable
from wamulti.clients.states import CLOSED, CONNECTING, READY
from wamulti.clients.unlink import ALREADY_GONE, LOGGED_OUT, NOT_LINKED, STILL_LISTED


def answer_when_created(backend, count: int, event) -> threading.Thread:
    """Emit `event` on the count-th session once it connects (the brief connection of a delete)."""
    def run():
        backend.wait_session(count, timeout=10).emit(event)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def assert_gone(worker, store) -> None:
    assert store.get_client("alice") is None and store.load_snapshot("alice") is None
    assert not worker.session_path.exists(), "the keys are removed whatever WhatsApp said"


def test_a_ready_client_logs_out_on_its_connection(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    assert w.delete() == LOGGED_OUT
    assert session.calls.index(("logout",)) < session.calls.index(("stop",))
    assert len(fake_backend.sessions) == 1, "no second connection"
    assert w.join(5)
    assert_gone(w, sqlite_store)


def test_a_reconnecting_client_connects_briefly_and_logs_out(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    session.emit(Disconnected("disconnected"))
    assert w.wait_for_state({CONNECTING}, 5)
    answer_when_created(fake_backend, 2, Connected())
    assert w.delete() == LOGGED_OUT
    brief = fake_backend.sessions[1]
    assert session.stopped.is_set() and ("logout",) not in session.calls
    assert brief.calls[:2] == [("connect",), ("logout",)] and brief.stopped.is_set()
    assert_gone(w, sqlite_store)


def test_whatsapp_not_answering_in_time_leaves_the_device_listed_and_says_so(make_worker, fake_backend,
                                                                            sqlite_store):
    w = make_worker(unlink_timeout=0.5)
    session = pair_and_get_ready(w, fake_backend, JID)
    session.emit(Disconnected("disconnected"))
    assert w.wait_for_state({CONNECTING}, 5)
    started = time.monotonic()
    outcome = w.delete()  # the brief connection never says Connected
    assert time.monotonic() - started < 2
    assert outcome.unlinked is False and "not connected within 0.5 s" in outcome.message
    assert outcome.message.endswith(STILL_LISTED)
    assert ("logout",) not in fake_backend.sessions[1].calls and fake_backend.sessions[1].stopped.is_set()
    assert_gone(w, sqlite_store)


def test_a_failing_dial_answers_at_once(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    fake_backend.connect_failure = "dial tcp: connection refused"
    session.emit(Disconnected("disconnected"))  # whatsmeow would be reconnecting now
    assert w.wait_for_state({CONNECTING}, 5)
    started = time.monotonic()
    outcome = w.delete()
    assert time.monotonic() - started < 1.5
    assert not outcome.unlinked and "connect failed: dial tcp: connection refused" in outcome.message
    assert_gone(w, sqlite_store)


def test_a_closed_client_after_a_restart_logs_out_with_the_stored_keys(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    wait_until(lambda: sqlite_store.load_snapshot("alice") is not None)
    session.emit(Terminated("stream_replaced"))
    assert w.wait_for_state({CLOSED}, 5) and w.join(5)
    w.session_path.unlink()  # e.g. a new DATA_DIR: only the store has the keys
    seen = []

    def look_then_connect():
        brief = fake_backend.wait_session(2, 10)
        seen.append(brief.path.read_bytes())  # what the brief connection opened
        brief.emit(Connected())

    threading.Thread(target=look_then_connect, daemon=True).start()
    assert w.delete() == LOGGED_OUT
    assert seen == [b"fake-keys"], "the brief connection opened the stored keys"
    assert ("logout",) in fake_backend.sessions[1].calls
    assert_gone(w, sqlite_store)


def test_whatsapp_having_logged_the_device_out_already_counts_as_unlinked(make_worker, fake_backend, sqlite_store):
    w = make_worker()
    session = pair_and_get_ready(w, fake_backend, JID)
    session.emit(Terminated("stream_replaced"))
    assert w.join(5)
    answer_when_created(fake_backend, 2, LoggedOut("logged_out: 401 unlinked from the phone"))
    assert w.delete() == ALREADY_GONE
    assert_gone(w, sqlite_store)


def test_a_client_never_linked_has_nothing_to_unlink_and_answers_at_once(make_worker, fake_backend, sqlite_store):
    from tests.test_worker import pair_by_phone

    w = make_worker()
    pair_by_phone(w, fake_backend)  # a code is showing, nobody entered it
    started = time.monotonic()
    assert w.delete() == NOT_LINKED
    assert time.monotonic() - started < 1 and len(fake_backend.sessions) == 1
    assert sqlite_store.get_client("alice") is None


def test_the_store_down_changes_nothing_even_for_a_closed_linked_client(tmp_path, sqlite_store, fake_backend):
    from wamulti.store.store_api import ClientRecord
    from wamulti.clients.worker import ClientWorker

    flaky = FlakyStore(sqlite_store)
    record = sqlite_store.create_client(ClientRecord("alice", CLOSED, jid=JID, last_error="stream_replaced"))
    sqlite_store.save_snapshot("alice", zlib.compress(b"keys"), hashlib.sha256(b"keys").hexdigest())
    w = ClientWorker(record, backend=fake_backend, store=flaky, prompter=FakePrompter(), data_dir=tmp_path / "d",
                     pairing_timeout=30)
    flaky.down = True
    with pytest.raises(StoreUnavailable):
        w.delete()
    assert sqlite_store.get_client("alice") is not None and sqlite_store.load_snapshot("alice") is not None
    assert fake_backend.sessions == [], "nothing was tried before the rows were gone"


def test_the_simulator_logs_a_stopped_client_out_through_the_registry(tmp_path, sqlite_store):
    backend = SimulatorBackend(connect_delay=0.05, pair_delay=0.05, sync_delay=0.05, read_delay=0.05)
    registry = ClientRegistry(store=sqlite_store, backend=backend, prompter=FakePrompter(enabled=False),
                              data_dir=tmp_path / "data", pairing_timeout=30, pairing_code_wait=2,
                              snapshot_interval=0.2)
    try:
        registry.create("sim", "4915123456789")
        wait_until(lambda: registry.get("sim").state == READY)
        assert registry.stop_all(5) == []  # a shutdown: the client is paired but has no thread
        outcome = registry.delete("sim")
        assert outcome == LOGGED_OUT
        assert sqlite_store.get_client("sim") is None
        assert not (tmp_path / "data" / "sessions" / "sim.session").exists()
    finally:
        registry.stop_all(5)
        backend.close()


def test_a_damaged_stored_snapshot_does_not_block_the_delete(tmp_path, sqlite_store, fake_backend):
    from wamulti.store.store_api import ClientRecord
    from wamulti.clients.worker import ClientWorker

    record = sqlite_store.create_client(ClientRecord("alice", CLOSED, jid=JID, last_error="stream_replaced"))
    sqlite_store.save_snapshot("alice", b"not zlib", "0" * 64)
    w = ClientWorker(record, backend=fake_backend, store=sqlite_store, prompter=FakePrompter(),
                     data_dir=tmp_path / "d", pairing_timeout=30)
    outcome = w.delete()
    assert not outcome.unlinked and "keys are missing" in outcome.message
    assert sqlite_store.get_client("alice") is None and fake_backend.sessions == []
