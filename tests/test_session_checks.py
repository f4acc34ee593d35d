"""The periodic look at session files (sessions/session_checks.py): one round for every client, so N
idle clients cost O(1) wake-ups per period, and a changed file is still found and snapshotted.

The rounds here are run with `check_now()` (the thread's interval is an hour), and wake-ups are
counted where they happen: the checker's rounds and each worker thread's own (`wakeups`,
`next_wakeup()`), never by sleeping and looking at the CPU.
"""

from __future__ import annotations

import threading

from tests.conftest import BUSY_BOUND, drive_to_ready, wait_until
from wamulti.clients.states import READY
from wamulti.sessions.session_checks import SessionChecks, shared

IDLE_CLIENTS = 12
ROUNDS = 5


def idle_ready_clients(make_worker, fake_backend, store, checks: SessionChecks, count: int):
    """`count` paired workers, READY, their session files snapshotted: idle from here on."""
    workers = []
    for n in range(count):
        worker = make_worker(f"idle{n:02d}", jid=f"49157000{n:04d}@s.whatsapp.net", session_checks=checks)
        worker.session_path.parent.mkdir(parents=True, exist_ok=True)
        worker.session_path.write_bytes(f"keys of {n}".encode())
        worker.start()
        drive_to_ready(fake_backend.wait_session(n + 1))
        assert worker.wait_for_state({READY}, BUSY_BOUND)
        workers.append(worker)
    assert checks.check_now() == count, "each new file is due once: the store has none of them"
    wait_until(lambda: all(store.load_snapshot(w.client_id) for w in workers), BUSY_BOUND)
    wait_until(lambda: checks.check_now() == 0, BUSY_BOUND)  # every first snapshot saved and known
    return workers


def test_idle_clients_cost_one_round_per_period_and_no_wakeup_of_their_own(make_worker, fake_backend, sqlite_store):
    checks = SessionChecks(interval=3600.0)
    workers = idle_ready_clients(make_worker, fake_backend, sqlite_store, checks, IDLE_CLIENTS)
    assert checks.watching() == IDLE_CLIENTS
    assert all(w.next_wakeup() is None for w in workers), "no timer of its own: only a message wakes it"
    before_rounds, before_due = checks.rounds, checks.due
    woke = [w.wakeups for w in workers]
    for _ in range(ROUNDS):
        assert checks.check_now() == 0
    assert checks.rounds - before_rounds == ROUNDS, "one wake-up per period for all the clients"
    assert checks.due == before_due
    assert [w.wakeups for w in workers] == woke, "no idle worker thread woke"


def test_a_changed_file_wakes_only_its_worker_which_snapshots_it(make_worker, fake_backend, sqlite_store):
    checks = SessionChecks(interval=3600.0)
    workers = idle_ready_clients(make_worker, fake_backend, sqlite_store, checks, 4)
    changed = workers[2]
    first = sqlite_store.load_snapshot(changed.client_id)
    woke = [w.wakeups for w in workers]
    changed.session_path.write_bytes(b"keys moved on, and longer than before")
    assert checks.check_now() == 1
    wait_until(lambda: sqlite_store.load_snapshot(changed.client_id).generation > first.generation, BUSY_BOUND)
    assert sqlite_store.load_snapshot(changed.client_id).sha256 != first.sha256
    assert [w.wakeups - n for w, n in zip(workers, woke)] == [0, 0, 1, 0]
    assert changed.status().snapshot_lag == 0


def test_a_look_that_raises_does_not_stop_the_others():
    checks = SessionChecks(interval=3600.0)
    seen = []

    def broken():
        raise RuntimeError("a bug in one client's look")

    checks.watch("a", broken)
    checks.watch("b", lambda: seen.append("b") or True)
    assert checks.check_now() == 1 and seen == ["b"]
    checks.unwatch("a")
    checks.unwatch("b")
    assert checks.watching() == 0


def test_the_thread_runs_rounds_while_clients_are_watched_and_ends_after_the_last():
    checks = SessionChecks(interval=0.01)
    looked = threading.Event()
    checks.watch("a", lambda: looked.set() or False)
    assert looked.wait(BUSY_BOUND), "the thread runs rounds by itself"
    assert checks.running
    checks.unwatch("a")
    wait_until(lambda: not checks.running, BUSY_BOUND)
    checks.watch("b", lambda: False)
    assert checks.running, "a later watch starts it again"
    checks.unwatch("b")
    assert shared(0.2) is shared(0.2) and shared(0.2) is not shared(3.0), "one per interval in a process"
