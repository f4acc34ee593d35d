"""The embedded store's writer thread and its combined writes (store/sqlite_combiners.py): writes
queued together share their statements, and each still gets its own answer: its row's seq, QueueFull
past its client's bound, its own IntegrityError, whether its claim took the row.

Each test holds the writer thread in a job of its own (`held_writer`) while the writes queue, so they
meet in one batch for certain."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest

from wamulti.config import Settings
from wamulti.errors import QueueFull
from wamulti.store import open_store
from wamulti.store import sqlite as sqlite_store
from wamulti.store.base import ClientRecord, DuplicateClient
from wamulti.store.outbound import FAILED, SENDING, SENT, OutboundRow, StateChange
from wamulti.store.outbox import NONE, EventRow
from wamulti.store.rows import utcnow
from wamulti.store.sqlite_combiners import EnqueueMany, FinishMany
from wamulti.worker.sender import new_message_id

LONG_AGO = timedelta(hours=24)


@pytest.fixture(params=["held", "plain"])
def sqlite(request, tmp_path, monkeypatch):
    """The store, its writer on a held connection (sqlite_held.py) or, as where that library cannot be
    reached, on a plain sqlite3 one."""
    if request.param == "plain":
        monkeypatch.setattr(sqlite_store, "open_held", lambda path: None)
    store = open_store(Settings(api_key="t" * 16, data_dir=tmp_path / "data"))
    assert store._held_writes is (request.param == "held")  # open_store wrote (migrations): it is known
    store.create_client(ClientRecord("alice", "READY"))
    yield store
    store.close()


@pytest.fixture
def batch_sizes(monkeypatch):
    """How many items each combined call got (the real combiners run)."""
    sizes: list[tuple[str, int]] = []
    for combiner in (EnqueueMany, FinishMany):
        real = combiner.many
        monkeypatch.setattr(combiner, "many", lambda self, con, items, real=real, name=combiner.__name__:
                            sizes.append((name, len(items))) or real(self, con, items))
    return sizes


@contextmanager
def held_writer(store, queued: int):
    """The writer thread waits inside a job while the block starts writes on other threads; once
    `queued` of them wait in its queue, it lets go and they all go in its next batch."""
    running, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=store._writes.run, args=(lambda con: running.set() or release.wait(10),))
    holder.start()
    assert running.wait(10)
    yield
    wait_for(lambda: store._writes._writer._queue.qsize() >= queued)
    release.set()
    holder.join(10)


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.002)


def in_threads(calls) -> list:
    """Start each call on its own thread: (the list their results or exceptions go to, the threads)."""
    results: list = [None] * len(calls)

    def run(n, call):
        try:
            results[n] = call()
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(calls)]
    for t in threads:
        t.start()
    return results, threads


def joined(started) -> list:
    """The results of in_threads() once its threads ended."""
    results, threads = started
    for t in threads:
        t.join(20)
    return results


def new_row(text: str, message_id: str | None = None) -> OutboundRow:
    return OutboundRow(message_id or new_message_id(), "alice", "+4915100000001", text)


def stored_seqs(store) -> dict[str, int]:
    with store._tx() as con:
        return dict(con.execute("SELECT message_id, seq FROM outbound").fetchall())


def test_enqueues_of_one_batch_share_an_insert_and_stop_at_the_bound(sqlite, batch_sizes):
    for n in range(2):
        sqlite.enqueue_send(new_row(f"before {n}"), 10, utcnow() - LONG_AGO)
    with held_writer(sqlite, queued=12):
        started = in_threads([lambda n=n: sqlite.enqueue_send(new_row(f"m{n}"), 10, utcnow() - LONG_AGO)
                              for n in range(12)])
    results = joined(started)
    stored = [r[0] for r in results if isinstance(r, tuple)]
    full = [r for r in results if isinstance(r, QueueFull)]
    assert len(stored) == 8 and len(full) == 4, results
    assert all(f.depth == 10 for f in full)
    seqs = stored_seqs(sqlite)
    assert all(seqs[row.message_id] == row.seq for row in stored), "a returned seq is not the stored one"
    assert len(sqlite.open_sends("alice")) == 10
    assert ("EnqueueMany", 12) in batch_sizes, batch_sizes


def test_an_enqueue_that_breaks_the_shared_insert_fails_alone(sqlite, batch_sizes):
    taken, _ = sqlite.enqueue_send(new_row("first"), 100, utcnow() - LONG_AGO)
    rows = [new_row(f"m{n}") for n in range(4)] + [new_row("same id", taken.message_id)]
    with held_writer(sqlite, queued=5):
        started = in_threads([lambda r=r: sqlite.enqueue_send(r, 100, utcnow() - LONG_AGO) for r in rows])
    results = joined(started)
    assert isinstance(results[-1], sqlite3.IntegrityError), results[-1]
    seqs = stored_seqs(sqlite)
    assert all(seqs[r[0].message_id] == r[0].seq for r in results[:4])
    assert len(seqs) == 5 and ("EnqueueMany", 5) in batch_sizes


def test_outcomes_of_one_batch_share_their_updates_and_each_claim_answers_for_itself(sqlite, batch_sizes):
    sending = [sqlite.enqueue_send(new_row(f"s{n}"), 100, utcnow() - LONG_AGO)[0] for n in range(3)]
    following = [sqlite.enqueue_send(new_row(f"f{n}"), 100, utcnow() - LONG_AGO)[0] for n in range(3)]
    for row in sending:
        assert sqlite.claim_send(row.message_id, "me")
    sqlite.set_send_state(following[1].message_id, FAILED, reason="expired")  # its claim must miss
    sent_at = utcnow()
    with held_writer(sqlite, queued=3):
        started = in_threads([
            lambda s=s, f=f: sqlite.finish_send(s.message_id, StateChange(SENT, None, "chat@x", f"wa{s.body}", sent_at),
                                                f.message_id, "me")
            for s, f in zip(sending, following)])
    assert joined(started) == [True, False, True]
    assert [sqlite.get_send(r.message_id).state for r in sending] == [SENT] * 3
    assert [sqlite.get_send(r.message_id).wa_message_id for r in sending] == ["was0", "was1", "was2"]
    assert [sqlite.get_send(r.message_id).state for r in following] == [SENDING, FAILED, SENDING]
    assert ("FinishMany", 3) in batch_sizes, batch_sizes


def test_a_claim_that_misses_after_other_writes_of_the_batch_costs_no_other_claim(sqlite, batch_sizes):
    """The outcomes share a transaction with a write before them (nothing is rolled back to retry them):
    the claims that took their rows must say so, or those rows stay `sending` with nobody sending them."""
    sending = [sqlite.enqueue_send(new_row(f"s{n}"), 100, utcnow() - LONG_AGO)[0] for n in range(3)]
    following = [sqlite.enqueue_send(new_row(f"f{n}"), 100, utcnow() - LONG_AGO)[0] for n in range(3)]
    for row in sending:
        assert sqlite.claim_send(row.message_id, "me")
    sqlite.set_send_state(following[1].message_id, FAILED, reason="expired")  # its claim must miss
    with held_writer(sqlite, queued=4):
        started = in_threads(
            [lambda: sqlite.create_client(ClientRecord("bob", "READY"))]
            + [lambda s=s, f=f: sqlite.finish_send(s.message_id, StateChange(SENT), f.message_id, "me")
               for s, f in zip(sending, following)])
    results = joined(started)
    assert results[1:] == [True, False, True], results
    assert [sqlite.get_send(r.message_id).state for r in following] == [SENDING, FAILED, SENDING]
    assert sqlite.get_client("bob") is not None and ("FinishMany", 3) in batch_sizes, batch_sizes


def test_events_of_one_batch_go_in_once_each(sqlite):
    def event(n: int) -> EventRow:
        return EventRow(f"evt_{n:026d}", "alice", "message", f'{{"n":{n}}}', NONE, created_at=utcnow())

    with held_writer(sqlite, queued=4):
        started = in_threads([lambda: sqlite.add_events([event(1), event(2)]), lambda: sqlite.add_events([event(3)]),
                              lambda: sqlite.add_events([event(3)]), lambda: sqlite.add_events([event(4)])])
    assert joined(started) == [None] * 4
    assert [e.event_id for e in sqlite.list_events(client_id="alice")] == [f"evt_{n:026d}" for n in range(1, 5)]


def test_a_write_whose_code_fails_in_a_batch_leaves_the_others_committed(sqlite):
    def broken(con):
        con.execute("UPDATE clients SET last_error = 'half done' WHERE client_id = 'alice'")
        raise ValueError("a bug in the write")

    with held_writer(sqlite, queued=3):
        started = in_threads([lambda: sqlite._write(broken),
                              lambda: sqlite.create_client(ClientRecord("bob", "READY")),
                              lambda: sqlite.create_client(ClientRecord("alice", "READY"))])
    broken_result, created, duplicate = joined(started)
    assert isinstance(broken_result, ValueError) and isinstance(duplicate, DuplicateClient)
    assert created.client_id == "bob" and sqlite.get_client("bob") is not None
    assert sqlite.get_client("alice").last_error is None, "the failed write's change was kept"


def test_closing_right_after_a_failed_write_is_safe(tmp_path):
    """A failed write answers only once the writer is done with the connection: the store may close at once."""
    for n in range(30):
        store = open_store(Settings(api_key="t" * 16, data_dir=tmp_path / f"d{n}"))
        store.create_client(ClientRecord("alice", "READY"))
        with pytest.raises(DuplicateClient):
            store.create_client(ClientRecord("alice", "READY"))
        store.close()


def test_a_batch_that_fits_is_one_combined_call_of_each_kind(sqlite, batch_sizes):
    sending = [sqlite.enqueue_send(new_row(f"s{n}"), 100, utcnow() - LONG_AGO)[0] for n in range(3)]
    following = [sqlite.enqueue_send(new_row(f"f{n}"), 100, utcnow() - LONG_AGO)[0] for n in range(3)]
    for row in sending:
        assert sqlite.claim_send(row.message_id, "me")
    batch_sizes.clear()
    with held_writer(sqlite, queued=9):
        started = in_threads(
            [lambda n=n: sqlite.enqueue_send(new_row(f"new {n}"), 100, utcnow() - LONG_AGO) for n in range(6)]
            + [lambda s=s, f=f: sqlite.finish_send(s.message_id, StateChange(SENT), f.message_id, "me")
               for s, f in zip(sending, following)])
    results = joined(started)
    assert results[6:] == [True] * 3
    seqs = stored_seqs(sqlite)
    assert all(seqs[r[0].message_id] == r[0].seq for r in results[:6])
    assert sorted(batch_sizes) == [("EnqueueMany", 6), ("FinishMany", 3)], "not one call of each kind"
