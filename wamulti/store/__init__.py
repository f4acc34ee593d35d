"""Session store: MySQL/MariaDB (pooled PyMySQL) or the embedded SQLite default."""

from __future__ import annotations

import logging
import time

from .store_api import ClientRecord, DuplicateClient, SessionStore, Snapshot, StoreError, StoreUnavailable

__all__ = ["open_store", "ClientRecord", "DuplicateClient", "SessionStore", "Snapshot", "StoreError",
           "StoreUnavailable"]

FIRST_RETRY, MAX_RETRY = 0.5, 5.0


def open_store(settings, *, wait_seconds: float = 30.0, log: logging.Logger | None = None) -> SessionStore:
    """The configured store, ready to use; MySQL is retried with backoff for up to wait_seconds."""
    log = log or logging.getLogger(__name__)
    if not settings.db_host:
        from .sqlite_store import SQLiteStore

        return SQLiteStore(settings.data_dir)
    from .mysql_store import MySQLStore

    deadline = time.monotonic() + wait_seconds
    delay, attempt = FIRST_RETRY, 0
    while True:
        attempt += 1
        try:
            return MySQLStore(settings)
        except StoreUnavailable as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreUnavailable(f"{exc} (gave up after {attempt} tries in {wait_seconds:g}s)") from None
            log.warning("database not reachable (try %d): %s; retrying in %.1fs", attempt, exc, min(delay, left))
            time.sleep(min(delay, left))  # start-up only: nothing else to do until the store answers
            delay = min(MAX_RETRY, delay * 2)
