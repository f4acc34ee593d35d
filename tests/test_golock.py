"""The bounded holds on the Go lock (wamulti/backends/neonize/golock.py) and the gateway that takes them at
the boundary of every Go call (wamulti/backends/neonize/gocalls.py), without the library: calls
into Go are stood in for by real blocking C calls (libc poll), so a thread really leaves Python.
"""

from __future__ import annotations

import ctypes
import threading
import time

import pytest

from wamulti.backends.neonize.golock import Deadlines, GoLock, StartHold
from wamulti.backends.neonize.gocalls import GoCalls, _enter_go, threads_in_go
from wamulti.seams.neonize_internals import go_library, replace_go_library

BLOCKED = 0.3  # how long a thread must stay blocked to count as waiting
libc = ctypes.CDLL(None)


def in_thread(fn) -> threading.Event:
    done = threading.Event()
    threading.Thread(target=lambda: (fn(), done.set()), daemon=True).start()
    return done


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def go_wait(seconds: float) -> None:
    """Wait in C, entering it the way every Go call does (the GIL is given up meanwhile)."""
    _enter_go(libc.poll, (None, 0, int(seconds * 1000)))


class ObservedGo:
    """Test double for the observer: threads are "in Go" only when the test says so."""

    def __init__(self):
        self.inside: set[int] = set()
        self.asked = 0

    def __call__(self, thread_ids):
        self.asked += 1
        return {t for t in thread_ids if t in self.inside}


# ---- which threads are inside Go ------------------------------------------------------------------
def test_a_thread_inside_a_c_call_is_seen_in_go_and_one_still_in_python_is_not():
    ready = threading.Event()
    waiting = threading.Thread(target=lambda: go_wait(1.0), daemon=True)
    spinning = threading.Thread(target=lambda: (ready.wait(), sum(range(10**7))), daemon=True)
    waiting.start()
    spinning.start()
    ready.set()
    assert wait_for(lambda: waiting.ident in threads_in_go({waiting.ident}), 2)
    assert spinning.ident not in threads_in_go({spinning.ident, 0}), "busy in Python is not in Go"
    waiting.join(3)
    assert waiting.ident not in threads_in_go({waiting.ident}), "back from the call"


# ---- calls: shared, passed by a writer once seen in Go long enough ---------------------------------
def test_a_writer_passes_a_slow_call_once_it_has_seen_it_in_go_for_the_margin():
    observed = ObservedGo()
    lock = GoLock(observed, entry_margin=0.2)
    call = lock.begin_call()
    started = time.monotonic()
    writer = in_thread(lock.acquire_exclusive)
    assert not writer.wait(BLOCKED), "a call not seen in Go (say, waiting for the GIL) holds writers"
    observed.inside.add(call.thread_id)
    seen = time.monotonic()
    assert writer.wait(2), "the call is past its lookup: the writer goes though the call has not returned"
    assert time.monotonic() - seen >= 0.2 - 0.03, "not before the margin has passed"
    assert time.monotonic() - started < 2
    lock.release_exclusive()
    lock.end_call(call)  # the call returns later: nothing is released twice
    assert in_thread(lock.acquire_exclusive).wait(2)


def test_a_call_that_leaves_go_before_the_margin_starts_over():
    observed = ObservedGo()
    lock = GoLock(observed, entry_margin=0.3)
    call = lock.begin_call()
    writer = in_thread(lock.acquire_exclusive)
    observed.inside.add(call.thread_id)
    time.sleep(0.15)
    observed.inside.clear()  # the writer saw it in Go, then not: not past its lookup
    assert not writer.wait(0.4)
    lock.end_call(call)
    assert writer.wait(2), "a call that returned holds nothing"
    lock.release_exclusive()


def test_calls_are_observed_only_while_a_writer_waits_for_them():
    observed = ObservedGo()
    lock = GoLock(observed, entry_margin=0.05)
    calls = [lock.begin_call() for _ in range(3)]
    time.sleep(0.1)
    assert observed.asked == 0, "no writer, no look at the threads"
    for call in calls:
        lock.end_call(call)
    lock.acquire_exclusive()
    lock.release_exclusive()
    assert observed.asked == 0, "no call in the way, no look either"


def test_a_waiting_writer_bars_new_calls_until_it_has_been():
    observed = ObservedGo()
    lock = GoLock(observed, entry_margin=0.1)
    slow = lock.begin_call()
    writer = in_thread(lock.acquire_exclusive)
    assert not writer.wait(0.1)
    newcomer = in_thread(lock.begin_call)
    assert not newcomer.wait(BLOCKED), "writers first: a steady flow of sends must not starve a stop"
    observed.inside.add(slow.thread_id)
    assert writer.wait(2)
    assert not newcomer.wait(0.1)
    lock.release_exclusive()
    assert newcomer.wait(2)


# ---- downgraded: a start that dials keeps writers out, not lookups ----------------------------------
def test_downgraded_keeps_writers_out_and_lets_lookups_in_even_past_a_waiting_writer():
    lock = GoLock()
    lock.acquire_exclusive()
    reader = in_thread(lock.acquire_shared)
    assert not reader.wait(BLOCKED)
    lock.downgrade()
    assert reader.wait(2), "registered: lookups may come in"
    writer = in_thread(lock.acquire_exclusive)
    assert not writer.wait(BLOCKED), "the dialling start's last map read is still to come"
    assert in_thread(lock.acquire_shared).wait(2), "a writer waiting on a dial does not bar lookups"
    lock.release_shared()
    lock.release_shared()
    lock.release_downgraded()
    assert writer.wait(2)
    lock.release_exclusive()


# ---- deadlines --------------------------------------------------------------------------------------
def test_deadlines_run_in_order_from_one_thread_and_survive_a_failing_callback():
    deadlines = Deadlines()
    ran: list[tuple[str, float, str]] = []
    now = time.monotonic()
    note = lambda name: lambda: ran.append((name, time.monotonic(), threading.current_thread().name))  # noqa: E731
    deadlines.call_at(now + 0.2, note("late"))
    deadlines.call_at(now + 0.05, lambda: 1 / 0)
    deadlines.call_at(now + 0.1, note("early"))
    assert wait_for(lambda: len(ran) == 2, 3)
    assert [name for name, _, _ in ran] == ["early", "late"]
    assert ran[0][1] >= now + 0.1 and ran[1][1] >= now + 0.2
    assert {thread for _, _, thread in ran} == {"wa-golock-deadlines"}
    deadlines.close()


def test_closing_deadlines_still_runs_what_was_given_never_early():
    deadlines = Deadlines()
    ran = threading.Event()
    due = time.monotonic() + 0.3
    deadlines.call_at(due, ran.set)
    deadlines.close()
    assert ran.wait(2) and time.monotonic() >= due


# ---- a start's hold ---------------------------------------------------------------------------------
@pytest.fixture
def deadlines():
    d = Deadlines()
    yield d
    d.close()


def start_hold(lock, deadlines, register=0.2, settle=0.3):
    ended: list[str] = []
    hold = StartHold(lock, deadlines, register, settle, on_over=lambda: ended.append("over"))
    return hold, ended


def test_a_start_registers_once_seen_in_go_for_its_bound_then_settles():
    observed = ObservedGo()
    lock = GoLock(observed)
    deadlines = Deadlines()
    hold, ended = start_hold(lock, deadlines, register=0.2, settle=0.3)
    entered = threading.Event()
    thread = threading.Thread(target=lambda: (hold.enter(), entered.set(), go_wait(2)), daemon=True)
    thread.start()
    assert entered.wait(2) and hold.stage == "exclusive"
    time.sleep(0.3)
    assert hold.stage == "exclusive", "not seen in Go yet (the observer says no): the bound has not begun"
    observed.inside.add(thread.ident)
    seen = time.monotonic()
    assert wait_for(lambda: hold.stage == "downgraded", 2)
    assert time.monotonic() - seen >= 0.2 - 0.03
    assert in_thread(lock.acquire_shared).wait(2), "lookups may come in"
    lock.release_shared()
    assert wait_for(lambda: hold.stage == "over", 2), "the settle bound ends it"
    assert ended == ["over"] and not hold.finished.is_set(), "a bound is not Go showing it is done"
    assert in_thread(lock.acquire_exclusive).wait(2)
    deadlines.close()


def test_a_start_with_the_real_observer_registers_while_its_thread_waits_in_c(deadlines):
    lock = GoLock(threads_in_go)
    hold, _ = start_hold(lock, deadlines, register=0.1, settle=30)
    thread = threading.Thread(target=lambda: (hold.enter(), go_wait(3)), daemon=True)
    thread.start()
    assert wait_for(lambda: hold.stage == "downgraded", 2)
    hold.over(seen=True)
    assert hold.finished.is_set()


def test_signals_end_a_start_once_in_any_order_from_any_thread(deadlines):
    lock = GoLock()
    hold, ended = start_hold(lock, deadlines, register=30, settle=30)
    assert hold.enter()
    assert in_thread(hold.registered).wait(2)  # Go logged "Dialing" (the router thread)
    assert hold.past_registration.is_set() and hold.stage == "downgraded"
    threads = [in_thread(lambda: hold.over(seen=True)) for _ in range(5)]  # connect() returned, Go called back ...
    assert all(t.wait(2) for t in threads)
    hold.registered()  # late: nothing happens
    assert ended == ["over"] and hold.finished.is_set()
    assert in_thread(lock.acquire_exclusive).wait(2), "released exactly once"
    lock.release_exclusive()
    assert in_thread(lock.acquire_exclusive).wait(2)


def test_a_start_over_before_it_entered_stays_out(deadlines):
    lock = GoLock()
    hold, ended = start_hold(lock, deadlines)
    hold.over(seen=True)  # connect() raised before reaching Go
    assert hold.past_registration.is_set() and ended == ["over"]
    assert hold.enter() is False
    assert in_thread(lock.acquire_exclusive).wait(2), "entering after the end takes nothing"


# ---- the gateway at the library boundary ------------------------------------------------------------
class WaitingLibrary:
    """Test double for neonize's ctypes library: each function waits in C for `seconds` (where Go
    would wait on the network) and records what it was called with."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.called: list[str] = []

    def __getattr__(self, name):
        def function(*args):
            self.called.append(name)
            go_wait(self.seconds)
            return name

        return function


class Client:
    """Test double for a neonize NewClient: only the attribute its library lives in."""

    def __init__(self, library):
        replace_go_library(self, library)


def test_gocalls_take_the_lock_as_each_go_function_needs_it():
    lock = GoLock(threads_in_go, entry_margin=0.1)
    library = WaitingLibrary(0.5)
    entering, returned = [], []
    client = Client(library)
    calls = GoCalls.install(client, lock, lambda: entering.append(1), lambda: returned.append(1))
    assert go_library(client) is calls
    assert calls.Neonize(b"db", b"uuid") == "Neonize" and entering == returned == [1]
    sender = in_thread(lambda: calls.SendMessage(b"uuid", b"jid", 3))
    time.sleep(0.05)
    started = time.monotonic()
    lock.acquire_exclusive()  # a start or stop while a send waits in Go
    assert time.monotonic() - started < 0.4, "the writer passed the send once it was seen in Go"
    assert not sender.is_set()
    lock.release_exclusive()
    assert sender.wait(2)
    stopper = in_thread(lambda: calls.Stop(b"uuid"))
    time.sleep(0.1)
    assert not in_thread(lock.acquire_shared).wait(0.2), "Stop is exclusive for the whole call"
    assert stopper.wait(2)
    assert library.called == ["Neonize", "SendMessage", "Stop"]
