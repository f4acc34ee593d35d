"""RateCap: a client's sends started per minute, evenly spaced (bursts get WhatsApp accounts banned)."""

from __future__ import annotations

import time


class RateCap:
    """At most `per_minute` starts a minute, evenly spaced (no bursts); 0 = no cap."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self._spacing = 60.0 / per_minute if per_minute > 0 else 0.0
        self._clock = clock
        self._next = 0.0

    def wait_seconds(self) -> float:
        return max(0.0, self._next - self._clock())

    def take(self) -> None:
        self._next = max(self._next, self._clock()) + self._spacing
