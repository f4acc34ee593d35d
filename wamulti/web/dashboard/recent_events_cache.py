"""RecentEventsCache: the dashboards' event polls answered from one read of the log a second per key.

Twenty open pages in the conversations view each ask GET /api/events?after=<their cursor> every 2 s.
Their cursors differ (each page last asked at another moment), so a cache of exact answers would
rarely hit; but every cursor of a page that is keeping up lies in the same short tail of the log.
So the first poll of a second reads the events after its cursor from the store (as the route always
did) and, when that read reached the end of the log, keeps them as JSON, one piece per event; a
poll whose cursor is in that tail gets the events after it from memory, an idle one an empty list.
The answer may be up to MAX_AGE old, as the overview is (overview_cache.py). Only requests made
with a dashboard session come here; API-key callers read the store as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

MAX_AGE = 1.0  # seconds a tail is reused
FORGET_AFTER = 60.0  # a tail nobody asked for this long goes
MOST_TAILS = 64  # per process: keys x filters; the oldest goes first


@dataclass(frozen=True)
class Tail:
    """The events after `anchor` (None: from the log's start) up to the log's end when read."""

    built_at: float
    anchor: str | None
    ids: tuple[str, ...]
    pieces: tuple[bytes, ...]  # each event's JSON
    position: dict[str, int]  # event id -> its index + 1 (the events after it start there)

    def start_after(self, cursor: str | None) -> int | None:
        """Where the events after `cursor` start in this tail; None when the cursor is not in it."""
        return 0 if cursor == self.anchor else self.position.get(cursor) if cursor is not None else None


# (events as JSON pieces with their ids, the page's `next`) as the store answered one read
Read = tuple[list[tuple[str, bytes]], "str | None"]


class RecentEventsCache:
    """Thread-safe; two polls finding no fresh tail may both read the store (both answers are right)."""

    def __init__(self, max_age: float = MAX_AGE, clock: Callable[[], float] = time.monotonic):
        self._max_age, self._clock = max_age, clock
        self._lock = threading.Lock()
        self._tails: dict[Hashable, Tail] = {}

    def page(self, who: Hashable, after: str | None, limit: int,
             read: Callable[[], Read]) -> tuple[list[bytes], str | None]:
        """(events as JSON pieces, next) after `after` for `who` (a key's reach and the query's filters):
        from a fresh tail holding the cursor, else from read() (kept as the new tail if it is complete)."""
        now = self._clock()
        with self._lock:
            tail = self._tails.get(who)
        start = tail.start_after(after) if tail is not None and now - tail.built_at < self._max_age else None
        if start is not None:
            pieces, ids = tail.pieces[start:], tail.ids[start:]
            return (list(pieces[:limit]), ids[limit - 1]) if len(pieces) > limit else (list(pieces), None)
        events, following = read()
        if following is None:  # the read reached the end of the log: a tail other cursors can use
            self._keep(who, Tail(now, after, tuple(i for i, _ in events), tuple(p for _, p in events),
                                 {event_id: n + 1 for n, (event_id, _) in enumerate(events)}))
        return [piece for _, piece in events], following

    def _keep(self, who: Hashable, tail: Tail) -> None:
        with self._lock:
            for stale in [k for k, t in self._tails.items() if tail.built_at - t.built_at > FORGET_AFTER]:
                del self._tails[stale]
            self._tails[who] = tail
            while len(self._tails) > MOST_TAILS:
                del self._tails[min(self._tails, key=lambda k: self._tails[k].built_at)]

    def clear(self) -> None:
        """Forget every tail: a change made through this app (a redelivery, a replay) shows in the next poll."""
        with self._lock:
            self._tails.clear()
