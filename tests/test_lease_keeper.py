"""Ownership with fencing, against the real MariaDB the suite starts: two LeaseKeepers in one test
process, each with its own store (its own connection pool) on one database, as two instances are.
Lease expiry is the database's clock; a fake clock only where the local deadline is the point."""

from __future__ import annotations

import threading
import time

import pytest

from wamulti.cluster.lease_keeper import LeaseKeeper
from wamulti.cluster.lease_timings import LeaseTimings
from wamulti.store import ClientRecord, StoreUnavailable, open_store
from wamulti.store.lease_rows import StaleLease
from wamulti.store.send_rows import FAILED, SENDING, OutboundRow, StateChange
from wamulti.store.store_api import SnapshotWrite

FAST = LeaseTimings(lease=2.0, renew=0.3, margin=0.8, tick=0.05)  # self-fence 1.2 s after a renewal was sent
IDS = ["c1", "c2", "c3"]
FAR = __import__("datetime").datetime(2100, 1, 1)


@pytest.fixture
def two_stores(mariadb):
    database = mariadb.new_database()
    a = open_store(mariadb.settings(database), wait_seconds=10)
    b = open_store(mariadb.settings(database), wait_seconds=10)
    for client_id in IDS:
        a.create_client(ClientRecord(client_id, "READY"))
    yield a, b
    a.close()
    b.close()


class FakeClock:
    """Test double: a monotonic clock moved by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class UnreachableRenewals:
    """Test double: the store as an instance cut off from the database sees it, for renewals only
    once `cut` is set; everything else goes to the real store."""

    def __init__(self, store):
        self._store, self.cut = store, threading.Event()

    def renew_leases(self, owner, seconds):
        if self.cut.is_set():
            raise StoreUnavailable("database unreachable (test double)")
        return self._store.renew_leases(owner, seconds)

    def __getattr__(self, name):
        return getattr(self._store, name)


def _keeper(store, name, **kwargs) -> LeaseKeeper:
    keeper = LeaseKeeper(store, name, FAST, **kwargs)
    store.fence_writes(keeper.token)
    return keeper


def test_one_owner_at_a_time_and_the_token_grows_with_every_change_of_owner(two_stores):
    a_store, b_store = two_stores
    a, b = _keeper(a_store, "inst-a"), _keeper(b_store, "inst-b")
    assert a.take(10, IDS) == {"c1": 1, "c2": 1, "c3": 1}
    assert b.take(10, IDS) == {}
    a.release(["c1"])
    assert b.take(10, IDS) == {"c1": 2}
    b.release(["c1"])
    assert a.take(1, ["c1"]) == {"c1": 3}
    owners = {row.client_id: (row.owner, row.token, row.live) for row in a_store.lease_rows()}
    assert owners == {"c1": ("inst-a", 3, True), "c2": ("inst-a", 1, True), "c3": ("inst-a", 1, True)}


def test_a_stale_token_snapshot_is_refused_and_the_new_owner_writes(two_stores):
    a_store, b_store = two_stores
    a, b = _keeper(a_store, "inst-a"), _keeper(b_store, "inst-b")
    a.take(1, ["c1"])
    a_store.save_snapshot("c1", b"from a", "a" * 64)
    with pytest.raises(StaleLease):
        b_store.save_snapshot("c1", b"from b too early", "b" * 64)
    a.release(["c1"])
    b.take(1, ["c1"])
    a_store.fence_writes({"c1": 1}.get)  # a paused process that still believes it holds token 1
    with pytest.raises(StaleLease):
        a_store.save_snapshot("c1", b"late write of a", "c" * 64)
    with pytest.raises(StaleLease):
        a_store.save_snapshots([SnapshotWrite("c1", b"late batch of a", "d" * 64, 9)])
    assert b_store.load_snapshot("c1").data == b"from a"
    b_store.save_snapshot("c1", b"from b", "e" * 64)
    assert a_store.load_snapshot("c1").data == b"from b"


def test_queue_claims_and_outcomes_under_a_stale_token_are_refused(two_stores):
    a_store, b_store = two_stores
    a, b = _keeper(a_store, "inst-a"), _keeper(b_store, "inst-b")
    a.take(1, ["c1"])
    first, _ = a_store.enqueue_send(OutboundRow("m-1", "c1", "+4915100000001", "one"), 100, FAR)
    second, _ = b_store.enqueue_send(OutboundRow("m-2", "c1", "+4915100000001", "two"), 100, FAR)  # any instance
    assert a_store.claim_send("m-1", "inst-a")
    with pytest.raises(StaleLease):
        b_store.claim_send("m-2", "inst-b")
    a.release(["c1"])  # as after a's death: b takes over with a new token
    b.take(1, ["c1"])
    a_store.fence_writes({"c1": 1}.get)
    with pytest.raises(StaleLease):
        a_store.finish_send("m-1", StateChange("sent"), claim="m-2", owner="inst-a")
    with pytest.raises(StaleLease):
        a_store.claim_send("m-2", "inst-a")
    failed = b_store.fail_open_sends("c1", SENDING, "outcome_unknown")  # what a takeover does first
    assert [(r.message_id, r.state) for r in failed] == [("m-1", SENDING)]
    assert a_store.get_send("m-1").state == FAILED and a_store.get_send("m-1").reason == "outcome_unknown"
    assert b_store.claim_send("m-2", "inst-b")
    assert b_store.get_send("m-2").state == SENDING


def test_an_instance_that_cannot_renew_lets_go_before_its_leases_expire(two_stores):
    a_store, b_store = two_stores
    cut_off = UnreachableRenewals(a_store)
    fenced: list[tuple[float, list[str], str]] = []
    a = _keeper(cut_off, "inst-a", on_lost=lambda ids, why: fenced.append((time.monotonic(), ids, why)))
    b = _keeper(b_store, "inst-b")
    a.take(10, IDS)
    a.start()
    try:
        time.sleep(3 * FAST.renew)  # renewals work: the leases outlive their first length
        assert a.failed_renewals == 0 and len(a.held()) == 3
        cut_at = time.monotonic()
        cut_off.cut.set()
        taken: dict[str, int] = {}
        while not taken and time.monotonic() - cut_at < 3 * FAST.lease:
            taken = b.take(10, IDS)
            time.sleep(0.02)
        taken_at = time.monotonic()
    finally:
        a.stop()
    assert taken == {"c1": 2, "c2": 2, "c3": 2}
    assert len(fenced) == 1 and fenced[0][1:] == (["c1", "c2", "c3"], "self-fence")
    assert fenced[0][0] < taken_at - 0.5 * FAST.margin  # let go well before anyone could take over
    assert a.token("c1") is None
    with pytest.raises(StaleLease):
        a_store.save_snapshot("c1", b"after the fence", "f" * 64)


def test_past_the_deadline_the_fence_holds_even_before_the_watch_runs(two_stores):
    a_store, _ = two_stores
    clock = FakeClock()
    a = _keeper(a_store, "inst-a", clock=clock)
    a.take(1, ["c1"])
    clock.now += FAST.trust - 0.01
    a_store.save_snapshot("c1", b"in time", "a" * 64)
    clock.now += 0.01  # a stall: the watch thread has not run yet
    with pytest.raises(StaleLease):
        a_store.save_snapshot("c1", b"after a stall", "b" * 64)
    assert a.watch_once() == ["c1"]
    assert a.watch_once() == []


def test_a_lost_lease_is_reported_and_a_restarted_instance_frees_its_former_leases(two_stores):
    a_store, b_store = two_stores
    lost: list[tuple[list[str], str]] = []
    a = _keeper(a_store, "inst-a", on_lost=lambda ids, why: lost.append((ids, why)))
    b = _keeper(b_store, "inst-b")
    a.take(1, ["c1"])
    time.sleep(FAST.lease + 0.1)  # a stalled past its lease (no renewals): expired on the database's clock
    assert b.take(1, ["c1"]) == {"c1": 2}
    assert a.renew_once() and lost == [(["c1"], "lease lost")]
    a.take(1, ["c2"])
    again = _keeper(a_store, "inst-a")  # the same instance id started again: c2 is a former life's
    assert again.renew_once()
    assert b.take(1, ["c2"]) == {"c2": 2}  # released at once, not after expiry


def test_a_former_owners_state_rows_are_refused_and_a_batch_keeps_the_others(two_stores):
    a_store, b_store = two_stores
    a, b = _keeper(a_store, "inst-a"), _keeper(b_store, "inst-b")
    a.take(2, ["c1", "c2"])
    a.release(["c1"])
    b.take(1, ["c1"])
    a_store.fence_writes({"c1": 1, "c2": 1}.get)  # a still believes it holds c1
    with pytest.raises(StaleLease):
        a_store.save_client(ClientRecord("c1", "CLOSED", last_error="late"))
    a_store.save_clients([ClientRecord("c1", "CLOSED", last_error="late"), ClientRecord("c2", "SYNCING")])
    assert b_store.get_client("c1").state == "READY" and b_store.get_client("c2").state == "SYNCING"
    b_store.save_client(ClientRecord("c1", "CONNECTING"))
    assert a_store.get_client("c1").state == "CONNECTING"
