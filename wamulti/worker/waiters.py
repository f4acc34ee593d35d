"""Waiters: request threads waiting for a queued send's outcome, by message id.

The send's thread tells the outcome (a Sent, or the error the send ended with); every thread
waiting for that id gets it. A waiter that comes after the outcome does not find it here: it reads
the row (the store has it by then). `slots` bounds how many request threads may wait at once, so
waiting sends never take every HTTP thread.
"""

from __future__ import annotations

import threading
from typing import Any


class _Waiting:
    def __init__(self):
        self.done = threading.Event()
        self.outcome: Any = None
        self.count = 0


class Waiters:
    """Any thread may call it; one per registry (a retried request may wait for another's send)."""

    def __init__(self, slots: int):
        self._lock = threading.Lock()
        self._by_id: dict[str, _Waiting] = {}
        self._slots = threading.BoundedSemaphore(slots) if slots > 0 else None

    def take_slot(self) -> bool:
        """One of the waiting slots (released with give_slot); False when all are taken."""
        return self._slots is not None and self._slots.acquire(blocking=False)

    def give_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def register(self, message_id: str) -> None:
        """Before the send can end: from now on its outcome is kept for wait()."""
        with self._lock:
            waiting = self._by_id.setdefault(message_id, _Waiting())
            waiting.count += 1

    def wait(self, message_id: str, timeout: float) -> tuple[bool, Any]:
        """(True, outcome) if the send ended within timeout, else (False, None); ends the registration."""
        with self._lock:
            waiting = self._by_id[message_id]
        done = waiting.done.wait(timeout)
        with self._lock:
            waiting.count -= 1
            if waiting.count == 0 and self._by_id.get(message_id) is waiting:
                del self._by_id[message_id]
        return done, waiting.outcome if done else None

    def tell(self, message_id: str, outcome: Any) -> bool:
        """The send ended with `outcome` (a Sent or an exception); True if a request was waiting for it."""
        with self._lock:
            waiting = self._by_id.get(message_id)
            if waiting is None:
                return False
            waiting.outcome = outcome
            waiting.done.set()
            return True
