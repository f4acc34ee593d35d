"""WaitSlots: how many request threads may wait for a send's outcome at once.

A request that finds no slot free is answered at once (202), so waiting sends never take every
HTTP thread; the registry gives HTTP_THREADS / 2 slots.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


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

    def waiting(self, wait: bool, seconds: float, submit: Callable[[float], T]) -> T:
        """submit(how long to wait for the outcome): `seconds` while a slot is free (held meanwhile), else 0."""
        slot = wait and self.take()
        try:
            return submit(seconds if slot else 0.0)
        finally:
            if slot:
                self.give()
