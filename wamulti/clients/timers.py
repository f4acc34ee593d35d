"""The worker thread's timers: named deadlines that bound its wait on the inbox.

Nothing sleeps to poll: the worker waits on its inbox until the next deadline, then handles the
timers that are due; with none set it waits for a message only (an idle client never wakes: the
periodic look at its session file is sessions/session_checks.py's, for all clients on one thread).
Scheduling a timer again moves its deadline.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Callable


class Timer(StrEnum):
    CONNECT = "connect"  # open a connection (first one, or a retry after backoff)
    PAIRING = "pairing"  # the attempt did not link a phone within PAIRING_TIMEOUT of its request
    CODE_WINDOW = "code_window"  # the backend's QR window (and the code with it) ran out


class Timers:
    """Deadlines on a monotonic clock; used by one thread only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._deadlines: dict[Timer, float] = {}

    def schedule(self, timer: Timer, delay: float) -> None:
        """Fire timer after delay seconds (replacing its earlier deadline, if any)."""
        self._deadlines[timer] = self._clock() + delay

    def cancel(self, *timers: Timer) -> None:
        for timer in timers:
            self._deadlines.pop(timer, None)

    def is_set(self, timer: Timer) -> bool:
        return timer in self._deadlines

    def seconds_left(self, timer: Timer) -> float | None:
        """Seconds until timer fires (never negative), or None when it is not set."""
        at = self._deadlines.get(timer)
        return None if at is None else max(0.0, at - self._clock())

    def pop_due(self) -> list[Timer]:
        """The timers whose deadline has passed, in the order they were first set; they are unset."""
        now = self._clock()
        due = [timer for timer, at in self._deadlines.items() if at <= now]
        self.cancel(*due)
        return due

    def seconds_to_next(self) -> float | None:
        """How long the inbox may be waited on before the next deadline (never negative); None: no
        deadline, wait for a message. Another thread may ask (a moment's view)."""
        deadlines = list(self._deadlines.values())
        return None if not deadlines else max(0.0, min(deadlines) - self._clock())
