"""Starts of neonize sessions: one at a time, spaced out, each holding the Go lock as it must.

A start's hold on the lock (`StartHold`, golock.py) begins as it enters Go and ends in two steps:
registered (its socket logs "Dialing", seen only when Go logs at DEBUG, or it has been seen
inside Go for the register bound) and over (connect() returned, Go called back, or the settle bound passed). The next start
begins once the previous one is over and the spacing has passed: the next one writes the maps,
which must not meet the previous one's last read.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, NamedTuple

from .golock import Deadlines, GoLock, StartHold

# How long the Go lock is held (docs/neonize.md "The Go lock"), from `python -m bench.golock`
# (the real library offline, 16 calling threads, load average 1-10 on 2 cores, nine or ten runs):
ENTRY_MARGIN = 0.2  # a call seen inside Go this long is past its client lookup (measured from just
#                     before the call, the GIL wait included: max 34-136 ms)
REGISTER_HOLD = 0.2  # a start seen inside Go this long has registered (existing file: max 5-63 ms)
REGISTER_HOLD_FRESH = 1.0  # the same on a new file, whose tables Go creates first (max 20-125 ms)
START_SETTLE = 1.0  # then this long for its handshake's last map read (no handshake completes offline)


class LockBounds(NamedTuple):
    """The bounds above, in seconds (tests and the benchmark pass others)."""

    entry_margin: float = ENTRY_MARGIN
    register: float = REGISTER_HOLD
    register_fresh: float = REGISTER_HOLD_FRESH
    settle: float = START_SETTLE


class StoppedBeforeStart(Exception):
    """The session was stopped before its start entered Go: the start stays out."""


class Starts:
    """The start gate: `begin(session)` waits for its turn and returns the session's StartHold."""

    def __init__(self, lock: GoLock, deadlines: Deadlines, *, spacing: float, bounds: LockBounds,
                 before_start: Callable[[str], None]):
        """`before_start(client_id)` runs at the start's turn, before its connect() sets up (the
        backend points Go's log callback at the client there)."""
        self._lock, self._deadlines = lock, deadlines
        self._spacing, self._bounds = spacing, bounds
        self._before_start = before_start
        self._gate = threading.Lock()
        self._guard = threading.Lock()
        self._current: tuple[object, StartHold] | None = None
        self._last_start = 0.0

    def begin(self, session, fresh_file: bool) -> StartHold:
        """Wait for our turn (the gate, then the spacing); the gate is released when the hold is over.
        `fresh_file`: Go will create the session file's tables before it registers the client."""
        self._gate.acquire()
        wait = self._last_start + self._spacing - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # the gate is ours meanwhile
        register = self._bounds.register_fresh if fresh_file else self._bounds.register
        hold = StartHold(self._lock, self._deadlines, register, self._bounds.settle,
                         on_over=lambda: self._over(session))
        with self._guard:
            self._current = (session, hold)
        self._last_start = time.monotonic()
        self._before_start(session.client_id)
        return hold

    def end(self, session) -> None:
        """End the session's start if it is the one in progress (idempotent; any thread)."""
        with self._guard:
            current = self._current
        if current is not None and current[0] is session:
            current[1].over()

    def registered(self, client_id: str) -> None:
        """Go logged "Dialing" for this client: if it is the start in progress, it has registered."""
        with self._guard:
            current = self._current
        if current is not None and current[0].client_id == client_id:
            current[1].registered()

    def _over(self, session) -> None:
        with self._guard:
            if self._current is None or self._current[0] is not session:
                return
            self._current = None
        self._gate.release()
