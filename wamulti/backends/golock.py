"""The process-wide readers/writer lock around calls into neonize's Go library.

Go keeps its client tables in unlocked maps, so a start or a stop must run alone while any other
call may share (docs/neonize.md). A start is released by whichever thread sees it registered (the
Go log thread, an event handler, a timer), so unlike threading locks any thread may release.
Waiting writers go first: a steady flow of sends must not starve a stop.
"""

from __future__ import annotations

import threading
from typing import Callable


class GoLock:
    """A readers/writer lock that any thread may release, preferring waiting writers."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def acquire_shared(self) -> None:
        with self._cond:
            while self._writer or self._writers_waiting:
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
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True

    def release_exclusive(self) -> None:
        with self._cond:
            self._writer = False
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
