"""Every call a neonize client makes into Go, held on the GoLock only as long as Go needs it.

neonize 0.5.2's NewClient calls its ctypes library through one private attribute; `GoCalls` stands
in for it on each client the backend creates, so every call is seen on its own thread right before
it enters Go. What each Go function does with the client maps (read in goneonize/main.go,
docs/neonize.md "Where Go touches its maps"):
- `Neonize` (a start) writes them, dials, and reads them again after the handshake: the session's
  start protocol takes it (`StartHold`, golock.py).
- `Stop` looks the client up, disconnects it and then removes it (a write): exclusive for the
  whole call. The session disconnects first, so what is left of Stop is quick.
- every other function looks the client up first thing and touches no map afterwards: shared,
  until the call returns or `call_hold` seconds after it entered Go, whichever comes first. The
  network wait that follows (up to whatsmeow's 75 s) holds nothing.
"""

from __future__ import annotations

import time
from typing import Callable

from .golock import Deadlines, GoLock, Hold

LIBRARY_ATTRIBUTE = "_NewClient__client"  # where neonize.client.NewClient keeps its ctypes library
START = "Neonize"
WRITERS = frozenset({"Stop", "StopAll"})  # the only exported functions besides Neonize that write


class GoCalls:
    """Stands in for neonize's ctypes library on one client; see the module docstring."""

    def __init__(self, library, lock: GoLock, deadlines: Deadlines, call_hold: float,
                 entering_start: Callable[[], None], start_returned: Callable[[], None]):
        """`entering_start()` runs on the start's thread right before Neonize is entered (it may
        raise to keep the start out of Go); `start_returned()` once Neonize has returned."""
        self._library = library
        self._lock, self._deadlines, self._call_hold = lock, deadlines, call_hold
        self._entering_start, self._start_returned = entering_start, start_returned

    @classmethod
    def install(cls, client, *args, **kwargs) -> "GoCalls":
        """Put a GoCalls between this neonize client and its library; returns it."""
        calls = cls(getattr(client, LIBRARY_ATTRIBUTE), *args, **kwargs)
        setattr(client, LIBRARY_ATTRIBUTE, calls)
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
            self._lock.acquire_shared()
            hold = Hold(self._lock.release_shared)
            self._deadlines.call_at(time.monotonic() + self._call_hold, hold.release)  # the clock starts here
            try:
                return function(*args)
            finally:
                hold.release()

        return call

    def _exclusive(self, function):
        def call(*args):
            with self._lock.exclusive():
                return function(*args)

        return call

    def _start(self, function):
        def call(*args):
            self._entering_start()
            try:
                return function(*args)
            finally:
                self._start_returned()

        return call
