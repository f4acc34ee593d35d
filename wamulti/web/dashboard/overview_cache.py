"""OverviewCache: the overview answer built at most once a second per key, shared by every open page.

Twenty open dashboards poll every 2 s; without this each poll would read every client's status, ask
the store whether it answers (health), read /proc for the memory figure and hash the body. With it
a poll is a dictionary lookup and a send of ready bytes (bench/dashboard.py has the figures). The
answer may be up to MAX_AGE old, which a page that polls every 2 s cannot tell from live.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Hashable

MAX_AGE = 1.0  # seconds an overview is reused
FORGET_AFTER = 60.0  # an entry nobody asked for this long goes (keys whose pages were closed)


class OverviewCache:
    """Thread-safe; two threads finding the same entry stale may both build it (both answers are right)."""

    def __init__(self, max_age: float = MAX_AGE, clock: Callable[[], float] = time.monotonic):
        self._max_age, self._clock = max_age, clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, bytes, str]] = {}  # who -> (built at, body, ETag)

    def get(self, who: Hashable, build: Callable[[], bytes]) -> tuple[bytes, str]:
        """(body, ETag) for `who` (a key's identity and reach): reused while fresh, else build() again."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(who)
            if entry is not None and now - entry[0] < self._max_age:
                return entry[1], entry[2]
        body = build()
        etag = hashlib.sha256(body).hexdigest()[:32]
        with self._lock:
            for stale in [k for k, (at, _, _) in self._entries.items() if now - at > FORGET_AFTER]:
                del self._entries[stale]
            self._entries[who] = (now, body, etag)
        return body, etag

    def clear(self) -> None:
        """Forget every overview: a change made through this app shows in the next poll."""
        with self._lock:
            self._entries.clear()
