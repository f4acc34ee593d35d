"""SessionBook: the dashboard's signed-in sessions, in this process's memory.

A session is a random id (the cookie) standing for a key without holding it: the admin key's
session holds nothing of it, a scoped key's holds its SHA-256 so the key is looked up again on
every request (a revoked key ends its sessions at once). Ids are kept hashed too, so the book
itself never holds a usable cookie. A restart signs everyone out.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

IDLE_SECONDS = 8 * 3600  # a session unused this long is over
MAX_SECONDS = 24 * 3600  # and any session after this long, used or not
CAPACITY = 1000  # sessions at most; the oldest goes first


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


@dataclass
class DashboardSession:
    """One signed-in browser: whose key (None: the admin key), its CSRF token, its times."""

    key_hash: str | None
    csrf_token: str
    created: float
    last_seen: float
    expires_at_wall: float  # unix time the session ends at the latest (shown to the page)


class SessionBook:
    """Thread-safe; every call is a dictionary operation under one lock."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS, max_seconds: float = MAX_SECONDS,
                 capacity: int = CAPACITY, clock: Callable[[], float] = time.monotonic):
        self._idle, self._max, self._capacity, self._clock = idle_seconds, max_seconds, capacity, clock
        self._lock = threading.Lock()
        self._sessions: dict[str, DashboardSession] = {}  # sha256 of the id -> session (insertion: oldest first)

    def open(self, key_hash: str | None) -> tuple[str, DashboardSession]:
        """A new session for a key (None: the admin key); returns (its id, the session)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        session = DashboardSession(key_hash, secrets.token_urlsafe(32), now, now, time.time() + self._max)
        with self._lock:
            while len(self._sessions) >= self._capacity:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[_digest(session_id)] = session
        return session_id, session

    def find(self, session_id: str) -> DashboardSession | None:
        """The live session of an id (its idle time restarts), or None: unknown, expired, signed out."""
        digest, now = _digest(session_id), self._clock()
        with self._lock:
            session = self._sessions.get(digest)
            if session is None:
                return None
            if now - session.last_seen > self._idle or now - session.created > self._max:
                del self._sessions[digest]
                return None
            session.last_seen = now
            return session

    def close(self, session_id: str) -> bool:
        """Sign out: the id stops working at once; False if it was not a live session."""
        with self._lock:
            return self._sessions.pop(_digest(session_id), None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
