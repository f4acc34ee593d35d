"""WaitSlots: how many request threads may wait for a send's outcome at once.

A request that finds no slot free is answered at once (202), so waiting sends never take every
HTTP thread; the registry gives HTTP_THREADS / 2 slots.
"""

from __future__ import annotations

import threading


class WaitSlots:
    """Any thread may call it; one per registry."""

    def __init__(self, slots: int):
        self._slots = threading.BoundedSemaphore(slots) if slots > 0 else None

    def take(self) -> bool:
        """One of the slots (given back with give); False when all are taken."""
        return self._slots is not None and self._slots.acquire(blocking=False)

    def give(self) -> None:
        if self._slots is not None:
            self._slots.release()
