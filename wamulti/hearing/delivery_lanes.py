"""WorkQueue: the clients that have events to deliver, each handed to one delivery thread at a time."""

from __future__ import annotations

import threading
from collections import deque


class WorkQueue:
    """Thread-safe FIFO of client ids without duplicates.

    A client offered while a thread works on it is queued again when that thread is done, so an
    event stored just as the thread finished is not left waiting for the next poll.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._order: deque[str] = deque()
        self._queued: set[str] = set()
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._closed = False

    def offer(self, client_id: str) -> None:
        """Ask for the client's events to be delivered."""
        with self._cond:
            if self._closed:
                return
            if client_id in self._busy:
                self._again.add(client_id)
            elif client_id not in self._queued:
                self._queued.add(client_id)
                self._order.append(client_id)
                self._cond.notify()

    def take(self) -> str | None:
        """The next client to work on (now busy), waiting for one; None once closed."""
        with self._cond:
            while not self._order and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            client_id = self._order.popleft()
            self._queued.discard(client_id)
            self._busy.add(client_id)
            return client_id

    def done(self, client_id: str, again: bool = False) -> None:
        """The thread is through with the client; queue it again if asked to, or if it was offered meanwhile."""
        with self._cond:
            self._busy.discard(client_id)
            if (again or client_id in self._again) and not self._closed and client_id not in self._queued:
                self._queued.add(client_id)
                self._order.append(client_id)
                self._cond.notify()
            self._again.discard(client_id)

    def close(self) -> None:
        """Wake every waiting thread; take() answers None from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
