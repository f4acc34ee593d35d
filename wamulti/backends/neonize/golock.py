"""The process-wide readers/writer lock around calls into neonize's Go library, and a start's hold on it.

Go keeps its client tables in unlocked maps (docs/neonize.md): a write (a start registering its
client, a stop removing it) must run alone, while lookups may share. The kinds of hold:
- shared: a lookup. A *call* (`begin_call`) is a lookup that may then wait on the network for a
  long time without touching the maps: a waiting writer passes it once it has seen the call's
  thread inside Go for `entry_margin` seconds (Go looks the client up first thing). The observer
  `in_go(thread_ids)` says which threads are inside Go; it is asked only while a writer waits.
- exclusive: a map write; nothing else.
- downgraded: a start that has registered and is dialling. Its own Go code reads the maps once
  more when the handshake ends, so writers stay out; lookups may come in. While one is held, a
  waiting writer does not bar new lookups (it would bar them for the whole dial).
Otherwise waiting writers go first, so a steady flow of sends cannot starve a stop.

A hold may be ended by whichever thread sees it is over (the Go log thread, an event handler, a
deadline), so unlike threading locks any thread may release. `StartHold` is a start's hold, ended
by the first of several signals; `Deadlines` runs its bounds from one thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable, Iterable

log = logging.getLogger(__name__)

InGo = Callable[[Iterable[int]], "set[int]"]  # which of these threads are inside a call into Go
WRITER_POLL = 0.02  # how often a writer waiting for calls looks at them again
START_POLL = 0.01  # how often a start's hold looks whether its thread has entered Go


def nobody_in_go(_thread_ids: Iterable[int]) -> set[int]:
    """The observer for a lock that cannot see into Go: calls hold until they return."""
    return set()


class Call:
    """A lookup call holding the shared side, made by one thread (see GoLock.begin_call)."""

    __slots__ = ("thread_id", "in_go_since", "past")

    def __init__(self, thread_id: int):
        self.thread_id = thread_id
        self.in_go_since: float | None = None  # first seen inside Go by a waiting writer
        self.past = False  # seen in Go long enough: past its lookup, writers no longer wait for it


class GoLock:
    """A readers/writer lock that any thread may release, preferring waiting writers."""

    def __init__(self, in_go: InGo = nobody_in_go, entry_margin: float = 0.2):
        self._cond = threading.Condition()
        self._readers = 0
        self._calls: set[Call] = set()
        self._writer = False
        self._writers_waiting = 0
        self._downgraded = 0
        self._in_go, self._entry_margin = in_go, entry_margin

    def _readers_may_enter(self) -> bool:
        return not self._writer and not (self._writers_waiting and not self._downgraded)

    def acquire_shared(self) -> None:
        with self._cond:
            self._cond.wait_for(self._readers_may_enter)
            self._readers += 1

    def release_shared(self) -> None:
        with self._cond:
            self._readers -= 1
            self._cond.notify_all()

    def begin_call(self) -> Call:
        """Shared, for a call this thread is about to make into Go; end it with end_call()."""
        with self._cond:
            self._cond.wait_for(self._readers_may_enter)
            call = Call(threading.get_ident())
            self._calls.add(call)
            return call

    def end_call(self, call: Call) -> None:
        with self._cond:
            self._calls.discard(call)
            self._cond.notify_all()

    def acquire_exclusive(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers or self._downgraded or self._calls_in_the_way():
                    self._cond.wait(WRITER_POLL if self._calls else None)
            finally:
                self._writers_waiting -= 1
            self._writer = True

    def _calls_in_the_way(self) -> bool:
        """Calls not yet seen inside Go for entry_margin seconds (holding the condition)."""
        pending = [call for call in self._calls if not call.past]
        if not pending:
            return False
        now = time.monotonic()
        in_go = self._in_go({call.thread_id for call in pending})
        for call in pending:
            if call.thread_id not in in_go:
                call.in_go_since = None  # still on its way in (waiting for the GIL, say)
            elif call.in_go_since is None:
                call.in_go_since = now
            elif now - call.in_go_since >= self._entry_margin:
                call.past = True
        return any(not call.past for call in pending)

    def release_exclusive(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()

    def downgrade(self) -> None:
        """Exclusive -> downgraded: lookups may come in again, writers still wait."""
        with self._cond:
            self._writer = False
            self._downgraded += 1
            self._cond.notify_all()

    def release_downgraded(self) -> None:
        with self._cond:
            self._downgraded -= 1
            self._cond.notify_all()

    @property
    def in_go(self) -> InGo:
        """The observer this lock was given (read-only)."""
        return self._in_go

    def shared(self) -> Held:
        """`with lock.shared():` holds it shared for the block."""
        return Held(self.acquire_shared, self.release_shared)

    def exclusive(self) -> Held:
        """`with lock.exclusive():` holds it exclusively for the block."""
        return Held(self.acquire_exclusive, self.release_exclusive)


class Held:
    """A context manager that acquires on entry and releases on exit."""

    def __init__(self, acquire: Callable[[], None], release: Callable[[], None]):
        self._acquire, self._release = acquire, release

    def __enter__(self):
        self._acquire()

    def __exit__(self, *exc):
        self._release()


class Deadlines:
    """Runs callbacks at their deadlines (time.monotonic()), from one daemon thread.

    One thread for every bounded hold: a send must not cost a thread. A callback that is no longer
    needed still runs at its deadline; the ones given here are idempotent releases.
    """

    def __init__(self, name: str = "wa-golock-deadlines"):
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()  # equal deadlines run in the order they were given
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), callback))
            if self._heap[0][2] is callback:
                self._cond.notify()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> None:
        self.call_at(time.monotonic() + seconds, callback)

    def _run(self) -> None:
        while True:
            with self._cond:
                callback = self._next_due()
            if callback is None:
                return
            try:
                callback()
            except Exception:  # one failing callback must not end the others' deadlines
                log.exception("a deadline callback failed")

    def _next_due(self) -> Callable[[], None] | None:
        """Wait (holding the condition) for the earliest deadline; None once closed and drained."""
        while self._heap or not self._closed:
            if not self._heap:
                self._cond.wait()
                continue
            wait = self._heap[0][0] - time.monotonic()
            if wait <= 0:
                return heapq.heappop(self._heap)[2]
            self._cond.wait(wait)
        return None

    def close(self) -> None:
        """The thread ends once every deadline given so far has run (never early: each ends a hold
        whose bound is what makes it safe to end); returns at once."""
        with self._cond:
            self._closed = True
            self._cond.notify()


class StartHold:
    """One start's hold on a GoLock: exclusive while Go registers the client, downgraded while it
    dials (its Go code reads the maps again when the handshake ends), over once that code is done.

    `enter()` runs on the start's thread right before it enters Go. The start counts as registered
    once its thread has been seen inside Go (the lock's observer) for `register_bound` seconds, or
    when `registered()` is called (Go logged "Dialing"); it is over `settle_bound` seconds after
    that, or when `over()` is called. Both may come from any thread, in any order, any number of
    times. `finished` is set only by `over(seen=True)`: the Go side itself showed it is done (the
    call returned, or Go called back), never by a bound.
    """

    def __init__(self, lock: GoLock, deadlines: Deadlines, register_bound: float, settle_bound: float,
                 on_over: Callable[[], None] = lambda: None):
        self._lock, self._deadlines = lock, deadlines
        self._register_bound, self._settle_bound = register_bound, settle_bound
        self._on_over = on_over
        self._guard = threading.Lock()
        self._stage = "before"  # -> exclusive -> downgraded -> over
        self._thread_id = 0
        self._in_go_since: float | None = None
        self.past_registration = threading.Event()  # set once the exclusive stage is over (or never came)
        self.finished = threading.Event()

    def enter(self) -> bool:
        """Take the exclusive side (waits for lookups in flight); False if the start is already over."""
        self._lock.acquire_exclusive()
        with self._guard:
            if self._stage != "before":
                self._lock.release_exclusive()
                return False
            self._stage = "exclusive"
            self._thread_id = threading.get_ident()
        self._deadlines.call_later(START_POLL, self._watch_registration)
        return True

    def _watch_registration(self) -> None:
        """The register bound counts from the moment the start's thread is seen inside Go."""
        if self._stage != "exclusive":
            return
        now = time.monotonic()
        if self._thread_id not in self._lock.in_go({self._thread_id}):
            self._in_go_since = None  # not in Go yet (waiting for the GIL, say)
            self._deadlines.call_at(now + START_POLL, self._watch_registration)
            return
        if self._in_go_since is None:
            self._in_go_since = now
        if now - self._in_go_since >= self._register_bound:
            self.registered()
        else:
            self._deadlines.call_at(self._in_go_since + self._register_bound, self._watch_registration)

    def registered(self) -> None:
        """Go has written its maps: lookups may come in again; writers still wait."""
        with self._guard:
            if self._stage != "exclusive":
                return
            self._stage = "downgraded"
            self._lock.downgrade()
        self.past_registration.set()
        self._deadlines.call_later(self._settle_bound, self.over)

    def over(self, seen: bool = False) -> None:
        """The start's Go code reads the maps no more (or its bound passed): release what is held."""
        with self._guard:
            stage, self._stage = self._stage, "over"
            if stage == "exclusive":
                self._lock.release_exclusive()
            elif stage == "downgraded":
                self._lock.release_downgraded()
        self.past_registration.set()
        if seen:
            self.finished.set()
        if stage != "over":
            self._on_over()

    @property
    def stage(self) -> str:
        """before, exclusive, downgraded or over (read-only)."""
        return self._stage
