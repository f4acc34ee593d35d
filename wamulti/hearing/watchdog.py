"""A deadline for a whole HTTP exchange, not just for each socket read.

A socket timeout bounds each read; a receiver that trickles a byte every few seconds would never
trip it. The watchdog thread shuts a guarded socket down when its deadline passes, which wakes the
read blocked on it at once, so a delivery never outlives its deadline (and its lane's lease).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import socket
import threading
import time
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Cut:
    """Set when the watchdog cut the exchange off."""

    fired = False


class Watchdog:
    """One thread (`events-watchdog`) for every guarded socket; start() it, stop() it."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._guarded: dict[int, tuple[socket.socket, Cut]] = {}
        self._ids = itertools.count()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="events-watchdog", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @contextmanager
    def guard(self, sock: socket.socket, deadline: float):
        """Shut `sock` down if the block is still running at `deadline` (monotonic); yields a Cut."""
        cut, key = Cut(), next(self._ids)
        with self._cond:
            self._guarded[key] = (sock, cut)
            heapq.heappush(self._heap, (deadline, key))
            self._cond.notify()
        try:
            yield cut
        finally:
            with self._cond:
                self._guarded.pop(key, None)

    def cut_all(self) -> None:
        """Cut every guarded exchange off now (the service is stopping)."""
        with self._cond:
            guarded, self._guarded = list(self._guarded.values()), {}
        self._cut(guarded)

    @staticmethod
    def _cut(guarded: list[tuple[socket.socket, Cut]]) -> None:
        for sock, cut in guarded:
            cut.fired = True
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # closed in the meantime
                pass

    def _due(self) -> list[tuple[socket.socket, Cut]]:
        """Under the lock: wait for the earliest deadline, then take the guards that are past it."""
        while not self._stopped:
            while self._heap and self._heap[0][1] not in self._guarded:
                heapq.heappop(self._heap)  # finished in time
            if not self._heap:
                self._cond.wait()
                continue
            left = self._heap[0][0] - self._clock()
            if left > 0:
                self._cond.wait(left)
                continue
            _, key = heapq.heappop(self._heap)
            return [self._guarded.pop(key)]
        return []

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._due()
            if not due:
                return
            self._cut(due)
