"""The PyMySQL connections the MariaDB pool opens: transactions begun without a round trip, and a
check that reopens a lost connection in place.

DBUtils' SteadyDB replaces a connection lost under a statement and runs the statement again on the
new one, unless it was told a transaction is open (its public `begin()`); inside a transaction that
replay would commit the later statements without the earlier ones (a half write), so every
transaction calls `begin()`. DBUtils' `begin()` then calls the driver's, which PyMySQL answers
with a `BEGIN` round trip; with autocommit off the server opens the transaction at the first
statement anyway, so this class's `begin()` sends nothing.
"""

from __future__ import annotations

import contextlib

import pymysql


class PooledMySQLConnection(pymysql.connections.Connection):
    """A PyMySQL connection for the pool; it remembers when it was last given back and whether that use worked."""

    last_used = 0.0  # time.monotonic() when it went back to the pool
    last_use_ok = False  # a new (or reopened) connection is checked before its first use

    def begin(self) -> None:
        """Nothing to send: autocommit is off, so the first statement opens the transaction."""

    def check(self) -> None:
        """Ping the server; reopen the connection in place if it is lost (raises if that fails too)."""
        try:
            self.ping(False)
        except pymysql.err.Error:
            with contextlib.suppress(Exception):
                self.close()  # the old socket goes even when the server already dropped it
            self.connect()


class PyMySQLDriver:
    """What PooledDB's `creator` takes: the DB-API module (for its errors and thread safety) and
    the connection factory."""

    dbapi = pymysql
    connect = PooledMySQLConnection
