"""SessionChecks: one thread looks at every running client's session file, instead of a wake-up per client.

Every `interval` seconds (3 s) the `session-checks` thread calls each watched client's `look`
(a few stat() calls, no I/O beyond them, never a store call): a client whose file changed, or whose
row or snapshot write must be tried again, answers True after handing its worker thread a message
to flush; the worker does the saving on its own thread, as before. An idle client therefore costs
its stat() calls and no thread switch: 5,000 idle clients wake one thread every 3 s, not 5,000.

The thread starts with the first watcher and ends when the last one left. `shared(interval)` is
the one instance per interval in a process (the tests run workers with a shorter interval).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Hashable

log = logging.getLogger(__package__)

Look = Callable[[], bool]  # True: the client was due (its worker was told to flush)


class SessionChecks:
    """The periodic look at many clients' session files, on one thread."""

    def __init__(self, interval: float):
        self.interval = interval
        self._lock = threading.Condition()
        self._watched: dict[Hashable, Look] = {}
        self._thread: threading.Thread | None = None
        self._rounds = 0  # rounds run so far (the thread's or check_now's): the periodic wake-ups
        self._due = 0  # looks that found a client due

    @property
    def rounds(self) -> int:
        """How many rounds ran: the only periodic wake-ups of the clients' session checks."""
        with self._lock:
            return self._rounds

    @property
    def due(self) -> int:
        """How many looks found a client due (each one woke that client's worker once)."""
        with self._lock:
            return self._due

    def watch(self, key: Hashable, look: Look) -> None:
        """Look at `key`'s client every interval from now on (replacing an earlier look of that key)."""
        with self._lock:
            self._watched[key] = look
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name="session-checks", daemon=True)
                self._thread.start()

    def unwatch(self, key: Hashable) -> None:
        with self._lock:
            self._watched.pop(key, None)

    @property
    def running(self) -> bool:
        """Whether its thread runs (from the first watch until a round finds nobody watched)."""
        with self._lock:
            return self._thread is not None

    def watching(self) -> int:
        with self._lock:
            return len(self._watched)

    def check_now(self) -> int:
        """One round on the caller's thread (the thread's rounds do the same); how many were due."""
        with self._lock:
            looks = list(self._watched.values())
        due = 0
        for look in looks:
            try:
                due += bool(look())
            except Exception:  # one client's trouble must not stop the others' checks
                log.exception("a session check failed")
        with self._lock:
            self._rounds += 1
            self._due += due
        return due

    def _main(self) -> None:
        while True:
            with self._lock:
                self._lock.wait(self.interval)
                if not self._watched:
                    self._thread = None  # a later watch() starts a new one
                    return
            self.check_now()


_shared: dict[float, SessionChecks] = {}
_shared_lock = threading.Lock()


def shared(interval: float) -> SessionChecks:
    """The process's SessionChecks for this interval."""
    with _shared_lock:
        checks = _shared.get(interval)
        if checks is None:
            checks = _shared[interval] = SessionChecks(interval)
        return checks
