"""A small pool of SQLite read connections, borrowed for one transaction by any thread.

A connection per thread would stay open for as long as the store does (two descriptors each:
the file and its WAL), and every client run is a new thread; borrowing bounds them by the reads
that run at once, and keeps at most `kept` idle.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class ConnectionPool:
    """Any thread may borrow; close() closes what is idle and, when returned, what was lent."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], kept: int):
        self._connect = connect
        self._kept = kept
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    @contextmanager
    def borrowed(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            con = self._idle.pop() if self._idle else None
        if con is None:
            con = self._connect()
        try:
            yield con
        finally:
            self._give_back(con)

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for con in idle:
            _close(con)

    def _give_back(self, con: sqlite3.Connection) -> None:
        if not con.in_transaction:
            with self._lock:
                if not self._closed and len(self._idle) < self._kept:
                    self._idle.append(con)
                    return
        _close(con)  # one too many, the pool is closed, or it is left mid-transaction (broken)


def _close(con: sqlite3.Connection) -> None:
    try:
        con.close()
    except sqlite3.Error:
        pass
