"""A token bucket: at most `capacity` calls at once, then one per `1 / rate` seconds."""

from __future__ import annotations

import threading
import time

from ..errors import RateLimited


class TokenBucket:
    """Thread-safe; `take()` spends a token or raises RateLimited with the seconds until the next."""

    def __init__(self, capacity: float, rate: float, clock=time.monotonic):
        self.capacity, self.rate = capacity, rate  # tokens; tokens per second
        self._clock = clock
        self._tokens = capacity
        self._at = clock()
        self._lock = threading.Lock()

    def take(self, what: str) -> None:
        """One token for `what` (named in the error), or RateLimited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self.rate
        raise RateLimited(f"Too many group metadata calls for this client ({what}); the cached groups are "
                          f"answered meanwhile. Retry in {wait:.0f} s.", retry_after=wait)
