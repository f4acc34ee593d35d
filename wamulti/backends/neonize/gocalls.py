"""Every call a neonize client makes into Go, held on the GoLock only as long as Go needs it.

neonize 0.5.2's NewClient calls its ctypes library through one private attribute (seams/neonize_internals.py);
`GoCalls` stands in for it on each client the backend creates, so every call is seen on its own thread right before
it enters Go. What each Go function does with the client maps (read in goneonize/main.go,
docs/neonize.md "Where Go touches its maps"):
- `Neonize` (a start) writes them, dials, and reads them again after the handshake: the session's
  start protocol takes it (`StartHold`, golock.py).
- `Stop` looks the client up, disconnects it and then removes it (a write): exclusive for the
  whole call. The session disconnects first, so what is left of Stop is quick.
- every other function looks the client up first thing and touches no map afterwards: a call on
  the shared side (`GoLock.begin_call`), which a waiting writer passes once it has seen the call
  inside Go for the lock's entry margin. The network wait that follows (up to whatsmeow's 75 s)
  holds up nobody.

Every call enters Go through `_enter_go`, so `threads_in_go` can tell from a thread's top frame
(seams/cpython_internals.py) that it has left Python: stopped inside that one call instruction, a
thread is in the C call (it gave up the GIL there). A thread on its way in that waits for the GIL waits at the function's
first instruction instead, so time spent waiting for the GIL never counts as time in Go.
"""

from __future__ import annotations

from typing import Callable, Iterable

from ...seams.cpython_internals import call_offset, threads_inside_call
from ...seams.neonize_internals import go_library, replace_go_library
from .golock import GoLock

START = "Neonize"
WRITERS = frozenset({"Stop", "StopAll"})  # the only exported functions besides Neonize that write


def _enter_go(function, args):
    return function(*args)


_GO_CALL = call_offset(_enter_go)


def threads_in_go(thread_ids: Iterable[int]) -> set[int]:
    """Which of these threads are inside a call into Go (or just back from one, waiting for the GIL)."""
    return threads_inside_call(_enter_go, _GO_CALL, thread_ids)


class GoCalls:
    """Stands in for neonize's ctypes library on one client; see the module docstring."""

    def __init__(self, library, lock: GoLock, entering_start: Callable[[], None],
                 start_returned: Callable[[], None]):
        """`entering_start()` runs on the start's thread right before Neonize is entered (it may
        raise to keep the start out of Go); `start_returned()` once Neonize has returned."""
        self._library = library
        self._lock = lock
        self._entering_start, self._start_returned = entering_start, start_returned

    @classmethod
    def install(cls, client, *args, **kwargs) -> "GoCalls":
        """Put a GoCalls between this neonize client and its library; returns it."""
        calls = cls(go_library(client), *args, **kwargs)
        replace_go_library(client, calls)
        return calls

    def __getattr__(self, name: str):
        function = getattr(self._library, name)
        if name == START:
            return self._start(function)
        if name in WRITERS:
            return self._exclusive(function)
        return self._lookup(function)

    def _lookup(self, function):
        def call(*args):
            held = self._lock.begin_call()
            try:
                return _enter_go(function, args)
            finally:
                self._lock.end_call(held)

        return call

    def _exclusive(self, function):
        def call(*args):
            with self._lock.exclusive():
                return _enter_go(function, args)

        return call

    def _start(self, function):
        def call(*args):
            self._entering_start()
            try:
                return _enter_go(function, args)
            finally:
                self._start_returned()

        return call
