"""The worker's parts on their own: timers on a fake clock, persistence outcomes on the SQLite store,
and the view other threads wait on."""

from __future__ import annotations

import hashlib
import time
import zlib
from dataclasses import replace

import pytest

from tests.conftest import FlakyStore
from wamulti.store.store_api import ClientRecord, StoreUnavailable
from wamulti.clients.states import CLOSED, CONNECTING, PAIRING, READY
from wamulti.sessions.persistence import Persistence, Restore, Write
from wamulti.clients.timers import Timer, Timers
from wamulti.clients.view import ClientView

JID = "4915123456789@s.whatsapp.net"


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ---- timers ------------------------------------------------------------------------------------
def test_timers_fire_once_when_due_and_rescheduling_moves_the_deadline():
    clock = FakeClock()
    timers = Timers(clock)
    assert timers.seconds_to_next() is None and timers.pop_due() == [], "no deadline: wait for a message only"
    timers.schedule(Timer.PAIRING, 3)
    timers.schedule(Timer.CONNECT, 1)
    assert timers.seconds_to_next() == 1
    clock.now += 1
    assert timers.pop_due() == [Timer.CONNECT]
    assert timers.pop_due() == [], "a timer fires once"
    timers.schedule(Timer.PAIRING, 5)  # moves it from 103 to 106
    clock.now += 3
    assert timers.pop_due() == [] and timers.seconds_to_next() == 2
    clock.now += 10
    assert timers.seconds_to_next() == 0, "an overdue timer means: do not wait"
    assert timers.pop_due() == [Timer.PAIRING]
    assert timers.seconds_to_next() is None


def test_timers_due_together_fire_in_the_order_set_and_cancel_unsets():
    clock = FakeClock()
    timers = Timers(clock)
    for timer in (Timer.PAIRING, Timer.CONNECT, Timer.CODE_WINDOW):
        timers.schedule(timer, 0)
    timers.cancel(Timer.CONNECT, Timer.CONNECT)  # cancelling an unset timer is fine
    assert not timers.is_set(Timer.CONNECT) and timers.is_set(Timer.PAIRING)
    assert timers.pop_due() == [Timer.PAIRING, Timer.CODE_WINDOW]


# ---- persistence -------------------------------------------------------------------------------
@pytest.fixture
def flaky(sqlite_store):
    return FlakyStore(sqlite_store)


@pytest.fixture
def persistence(flaky, tmp_path):
    flaky.create_client(ClientRecord("p", CONNECTING, jid=JID))
    return Persistence("p", flaky, tmp_path / "p.session")


def test_a_row_the_store_refused_is_written_by_the_next_flush(persistence, flaky, sqlite_store):
    record = sqlite_store.get_client("p")
    flaky.down = True
    assert persistence.save_row(replace(record, state=PAIRING)) is Write.FAILED
    assert sqlite_store.get_client("p").state == CONNECTING
    flaky.down = False
    assert persistence.flush(replace(record, state=READY)) is Write.UNCHANGED  # no session file yet
    assert sqlite_store.get_client("p").state == READY
    assert persistence.save_row(replace(record, state=CLOSED)) is Write.WRITTEN


def test_a_snapshot_is_written_when_the_file_changed_and_retried_after_a_failure(persistence, flaky, sqlite_store):
    record = sqlite_store.get_client("p")
    assert persistence.flush(record) is Write.UNCHANGED, "no file, nothing to save"
    persistence.session_path.write_bytes(b"keys v1")
    assert persistence.flush(record) is Write.WRITTEN
    assert persistence.flush(record) is Write.UNCHANGED, "an unchanged file is not read again"
    assert persistence.flush(record, force_snapshot=True) is Write.UNCHANGED, "same contents: no new version"
    persistence.session_path.write_bytes(b"keys v2, longer")
    flaky.down = True
    assert persistence.flush(record) is Write.FAILED
    flaky.down = False
    assert persistence.flush(record) is Write.WRITTEN, "a failed snapshot is retried though the file looks the same"
    assert zlib.decompress(sqlite_store.load_snapshot("p").data) == b"keys v2, longer"
    assert persistence.flush(replace(record, jid=None)) is Write.UNCHANGED, "an unpaired client has no keys to save"


def test_after_the_rows_are_deleted_nothing_is_written(persistence, sqlite_store):
    record = sqlite_store.get_client("p")
    persistence.session_path.write_bytes(b"keys")
    persistence.delete_rows()
    assert persistence.deleted
    assert persistence.save_row(replace(record, state=READY)) is Write.BLOCKED
    assert persistence.flush(record, force_snapshot=True) is Write.BLOCKED
    assert sqlite_store.get_client("p") is None and sqlite_store.load_snapshot("p") is None


def test_a_delete_the_store_refuses_leaves_writes_open(persistence, flaky, sqlite_store):
    flaky.down = True
    with pytest.raises(StoreUnavailable):
        persistence.delete_rows()
    flaky.down = False
    assert not persistence.deleted
    assert persistence.save_row(replace(sqlite_store.get_client("p"), state=READY)) is Write.WRITTEN


def test_restore_says_where_the_session_file_came_from(persistence, sqlite_store):
    assert persistence.restore() is Restore.MISSING
    persistence.session_path.write_bytes(b"working copy")
    assert persistence.restore() is Restore.LOCAL_COPY
    raw = b"stored keys"
    sqlite_store.save_snapshot("p", zlib.compress(raw), hashlib.sha256(raw).hexdigest())
    assert persistence.restore() is Restore.LOCAL_COPY, "the local file is the primary copy"
    assert persistence.session_path.read_bytes() == b"working copy"
    persistence.session_path.unlink()
    assert persistence.restore() is Restore.FROM_STORE
    assert persistence.session_path.read_bytes() == raw
    assert persistence.flush(sqlite_store.get_client("p"), force_snapshot=True) is Write.UNCHANGED
    persistence.forget_keys()
    assert not persistence.session_path.exists()
    assert persistence.remove_stored_snapshot() is Write.WRITTEN and sqlite_store.load_snapshot("p") is None


# ---- view --------------------------------------------------------------------------------------
def test_view_shows_a_qr_only_while_linking_and_waits_are_bounded():
    view = ClientView(ClientRecord("v", CONNECTING))
    view.show_qr("2@qr")
    assert view.pending_qr() == "2@qr"
    old, new = view.update(state=READY)
    assert (old.state, new.state, view.pending_qr()) == (CONNECTING, READY, None)
    assert new.updated_at is not None
    assert view.wait_for_state({CLOSED}, 0.05) is False and view.wait_for_state({READY}, 0) is True
    view.show_code("ABCD-EFGH")
    assert view.status().pairing_code == "ABCD-EFGH"
    view.clear_pairing(settled=True)
    assert view.status().pairing_code is None
    started = time.monotonic()
    view.wait_for_pairing_code(5)  # settled: returns at once
    view.expect_new_code()
    view.release_waiters()
    view.wait_for_pairing_code(5)  # released: returns at once
    assert time.monotonic() - started < 1


# ---- the run's inbox -----------------------------------------------------------------------------
class PersistenceCountingForgets(Persistence):
    """Test double: the real persistence, counting how often the working keys were removed."""

    forgotten = 0

    def forget_keys(self) -> None:
        self.forgotten += 1
        super().forget_keys()


def test_a_delete_that_reaches_a_run_on_its_way_out_still_removes_the_keys(tmp_path, sqlite_store, fake_backend):
    from wamulti.clients.inbox import Stop
    from wamulti.hearing.heard_events import Hearing, NoEvents
    from wamulti.clients.run import Options, Run

    path = tmp_path / "alice.session"
    record = sqlite_store.create_client(ClientRecord("alice", CONNECTING, jid=JID))  # no keys anywhere
    persistence = PersistenceCountingForgets("alice", sqlite_store, path)
    run = Run(Options("alice", fake_backend, None, path, 30.0, 3.0), ClientView(record), persistence,
              Hearing("alice", NoEvents()))
    assert not run.post(Stop(delete=False)), "a run that was never started must refuse: nobody would read it"
    run.open_inbox()
    assert run.post(Stop(delete=True))
    run.main(phone=None, delay=0.0, fresh_pairing=False)  # closes at once (session_missing): no step runs
    assert sqlite_store.get_client("alice").state == CLOSED
    assert persistence.forgotten == 1, "the delete left in the inbox was still carried out"
    assert not run.post(Stop(delete=True)), "after the run ended a command is refused, so the caller acts itself"
