"""MediaReferences: the checks that keep media from being pruned, gathered from whoever refers to it.

The send queue (a queued send's media) and the event outbox (an undelivered event's media) each add
a check `ids -> the ids it still needs`; the prune keeps the union. Until they add theirs, nothing
is referred to and retention alone decides.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Check = Callable[[list[str]], set[str]]


class MediaReferences:
    """A callable `is_referenced(ids) -> set of ids` over every check added; thread-safe."""

    def __init__(self, *checks: Check):
        self._checks: list[Check] = list(checks)
        self._lock = threading.Lock()

    def add(self, check: Check) -> None:
        with self._lock:
            self._checks.append(check)

    def __call__(self, media_ids: list[str]) -> set[str]:
        with self._lock:
            checks = list(self._checks)
        needed: set[str] = set()
        for check in checks:
            needed |= set(check(media_ids)) & set(media_ids)
        return needed
