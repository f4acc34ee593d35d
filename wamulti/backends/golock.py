"""The process-wide readers/writer lock around calls into neonize's Go library, and bounded holds on it.

Go keeps its client tables in unlocked maps (docs/neonize.md): a write (a start registering its
client, a stop removing it) must run alone, while lookups may share. Three kinds of hold:
- shared: a call looking its client up; many at once.
- exclusive: a map write; nothing else.
- downgraded: a start that has registered and is dialling. Its own Go code reads the maps once
  more when the handshake ends, so writers stay out; lookups may come in. While one is held, a
  waiting writer does not bar new lookups (it would bar them for the whole dial).
Otherwise waiting writers go first, so a steady flow of sends cannot starve a stop.

A hold may be ended by whichever thread sees it is over (the Go log thread, an event handler, a
deadline), so unlike threading locks any thread may release. `Hold` makes a release happen once;
`Deadlines` ends holds that outlive their bound, from one thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class GoLock:
    """A readers/writer lock that any thread may release, preferring waiting writers."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._downgraded = 0

    def acquire_shared(self) -> None:
        with self._cond:
            while self._writer or (self._writers_waiting and not self._downgraded):
                self._cond.wait()
            self._readers += 1

    def release_shared(self) -> None:
        with self._cond:
            self._readers -= 1
            self._cond.notify_all()

    def acquire_exclusive(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers or self._downgraded:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True

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


class Hold:
    """A hold that ends once: `release()` runs the release function the first time only, from any
    thread; later calls (the owner after a deadline, a deadline after the owner) do nothing."""

    def __init__(self, release: Callable[[], None]):
        self._release_fn = release
        self._guard = threading.Lock()
        self._held = True

    def release(self) -> bool:
        """End the hold; True if this call ended it."""
        with self._guard:
            if not self._held:
                return False
            self._held = False
        self._release_fn()
        return True

    @property
    def held(self) -> bool:
        return self._held


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

    `enter()` runs right before the start enters Go and arms both bounds from that moment;
    `registered()` and `over()` may come from any thread, in any order, any number of times.
    `finished` is set only by `over(seen=True)`: the Go side itself showed it is done (the call
    returned, or it called back), never by a deadline.
    """

    def __init__(self, lock: GoLock, deadlines: Deadlines, register_bound: float, settle_bound: float,
                 on_over: Callable[[], None] = lambda: None):
        self._lock, self._deadlines = lock, deadlines
        self._register_bound, self._settle_bound = register_bound, settle_bound
        self._on_over = on_over
        self._guard = threading.Lock()
        self._stage = "before"  # -> exclusive -> downgraded -> over
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
        now = time.monotonic()
        self._deadlines.call_at(now + self._register_bound, self.registered)
        self._deadlines.call_at(now + self._settle_bound, self.over)
        return True

    def registered(self) -> None:
        """Go has written its maps: lookups may come in again; writers still wait."""
        with self._guard:
            if self._stage != "exclusive":
                return
            self._stage = "downgraded"
            self._lock.downgrade()
        self.past_registration.set()

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
