"""MySQL/MariaDB store through PyMySQL, pooled with DBUtils PooledDB.

Each call borrows its own pooled connection and runs one transaction, rolled back on any error,
so an outage never leaves half a write behind. Connection-level failures become StoreUnavailable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import contextmanager

import pymysql
from dbutils.pooled_db import PooledDB, TooManyConnections

from .client_rows import COLUMNS, record_from_row, row_values, stamped, utcnow
from .event_sql import OutboxDialect, OutboxSQL, SQLOutbox, mysql_lease_until
from .key_rows import KeySQL, SQLKeys
from .lease_rows import MySQLLeases
from .media_source_rows import SQLMediaSources
from .media_rows import FORGET_CLIENT_MEDIA, FORGOTTEN_AT, MediaSQL, SQLMedia
from .mysql_codes import ACCESS_PROBLEMS, CONNECTION_CODES, FIRST_CLIENT_CODE, ServerCode
from .mysql_connection import PyMySQLDriver
from .mysql_schema import migrate
from .mysql_sends import MySQLOutbound
from .mysql_snapshots import MySQLSnapshotWrites
from .store_api import ClientRecord, DuplicateClient, SessionStore, Snapshot, SnapshotMeta, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
IDLE_PING = 1.0  # seconds a pooled connection may rest before its next borrow checks it first
NEVER_PING = 0  # DBUtils' ping setting for "never": _borrow checks, outside the pool's lock
IO_TIMEOUT = 30  # a 32 MiB snapshot must fit comfortably
CLIENT_MAX_PACKET = 1 << 30  # PyMySQL's own limit is 16 MiB; the server's setting is the one that counts
# times are UTC; backslash escapes must work for _binary_literal
SESSION_SETUP = "SET time_zone = '+00:00', sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')"

# Upserts name the new values through a derived table: MySQL 8.0.20 deprecates VALUES() in ON DUPLICATE
# KEY UPDATE, MariaDB has no `INSERT ... AS new` row alias, and PyMySQL's executemany cannot repeat a
# row's parameters in the update clause (tests/test_mysql_dialect.py checks the dialect).
_CLIENT_ROW = ", ".join(["%s"] * 7)
_UPSERT_CLIENTS_HEAD = (f"INSERT INTO clients ({COLUMNS}) SELECT * FROM (SELECT "
                        + ", ".join(f"%s AS {column}" for column in COLUMNS.split(", ")))
_UPSERT_CLIENTS_TAIL = (") AS given ON DUPLICATE KEY UPDATE phone = given.phone, jid = given.jid, "
                        "state = given.state, last_error = given.last_error, updated_at = given.updated_at")


def _as_is(value):
    return value  # DATETIME(6) columns: PyMySQL converts naive datetimes both ways


_OUTBOX_SQL = OutboxSQL(OutboxDialect(
    p="%s", write_time=_as_is, read_time=_as_is, keep_existing="ON DUPLICATE KEY UPDATE client_id = client_id",
    upsert="ON DUPLICATE KEY UPDATE",
    prune="DELETE FROM events WHERE event_id < %s AND delivery <> %s ORDER BY event_id LIMIT %s",
    now=lambda: ("UTC_TIMESTAMP(6)", ()), lease_until=mysql_lease_until))


def _upsert_clients(records: Sequence[ClientRecord]) -> tuple[str, list]:
    """One statement that inserts the records or updates the stored ones (but for created_at)."""
    sql = _UPSERT_CLIENTS_HEAD + f" UNION ALL SELECT {_CLIENT_ROW}" * (len(records) - 1) + _UPSERT_CLIENTS_TAIL
    return sql, [value for record in records for value in row_values(record)]


def _code(exc: Exception) -> int | None:
    """The MySQL error number of a driver exception, if it has one."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def _is_connection_error(exc: Exception) -> bool:
    if isinstance(exc, (pymysql.err.InterfaceError, TooManyConnections, ConnectionError, OSError)):
        return True
    if isinstance(exc, pymysql.err.OperationalError):
        code = exc.args[0] if exc.args else 0
        return code in CONNECTION_CODES or code >= FIRST_CLIENT_CODE
    return False


class MySQLStore(MySQLLeases, MySQLSnapshotWrites, SQLOutbox, MySQLOutbound, SQLKeys, SQLMediaSources, SQLMedia, SessionStore):
    kind = "mysql"
    _key_sql = KeySQL("%s", _as_is, _as_is)
    _media_sql = MediaSQL("%s", _as_is, _as_is)
    _scope_lock = " FOR UPDATE"  # a client deleted meanwhile waits for the key's commit
    _outbox_sql = _OUTBOX_SQL

    def __init__(self, settings):
        self._where = f"{settings.db_host}:{settings.db_port}"
        try:
            self._pool = PooledDB(
                creator=PyMySQLDriver, mincached=1, maxcached=settings.db_pool_size,
                maxconnections=settings.db_pool_size, blocking=True, ping=NEVER_PING,
                # _tx ends every transaction itself (commit or rollback): no rollback on return, which
                # the pool would send while holding its lock, a round trip that serialises every return
                reset=False,
                # what DBUtils' default would be for PyMySQL, said here rather than found from the connection class
                failures=(pymysql.err.OperationalError, pymysql.err.InterfaceError, pymysql.err.InternalError),
                host=settings.db_host, port=settings.db_port, user=settings.db_user,
                password=settings.db_password, database=settings.db_name, charset="utf8mb4",
                autocommit=False, connect_timeout=CONNECT_TIMEOUT, read_timeout=IO_TIMEOUT,
                write_timeout=IO_TIMEOUT, init_command=SESSION_SETUP, max_allowed_packet=CLIENT_MAX_PACKET,
            )
        except Exception as exc:
            raise self._translate(exc) from None
        self.max_packet = 0
        self._migrate()

    def _translate(self, exc: Exception) -> StoreError:
        """The store's error for a driver or pool exception, carrying the server's error number."""
        db_code = _code(exc)  # for callers that react to one server error
        if _is_connection_error(exc):
            return StoreUnavailable(f"database at {self._where} unreachable ({type(exc).__name__}"
                                    f"{f' {db_code}' if db_code is not None else ''})", db_code=db_code)
        if isinstance(exc, pymysql.err.MySQLError):
            code = exc.args[0] if exc.args else "?"
            return StoreError(f"database at {self._where}: {ACCESS_PROBLEMS.get(code, 'error')} ({code})",
                              db_code=db_code)
        return StoreError(f"database error ({type(exc).__name__})", db_code=db_code)

    @contextmanager
    def _tx(self):
        """A pooled connection in one transaction; committed on success, rolled back on error."""
        con = self._borrow()
        con.begin()  # DBUtils must raise, not replay, when the connection is lost mid-transaction
        done = False
        try:
            with con.cursor() as cur:
                yield cur
            con.commit()
            done = True
        except StoreError:
            self._rollback(con)
            raise
        except pymysql.err.IntegrityError as exc:
            self._rollback(con)
            if exc.args and exc.args[0] == ServerCode.DUP_ENTRY:
                raise DuplicateClient(str(exc.args[1]) if len(exc.args) > 1 else "duplicate",
                                      db_code=ServerCode.DUP_ENTRY) from None
            raise StoreError(f"database integrity error {_code(exc) or ''}", db_code=_code(exc)) from None
        except Exception as exc:
            self._rollback(con)
            raise self._translate(exc) from None
        finally:
            self._give_back(con, done)

    @contextmanager
    def _key_statements(self, write: bool):
        """SQLKeys' statements on one cursor in one transaction (reads and writes alike)."""
        with self._tx() as cur:
            def run(sql, args):
                changed = cur.execute(sql, args)
                return list(cur.fetchall()), changed
            yield run

    _media_statements = _key_statements  # the same one-transaction runner

    def _is_duplicate(self, exc: Exception) -> bool:
        return isinstance(exc, StoreError) and exc.db_code == ServerCode.DUP_ENTRY  # _tx's DuplicateClient

    @contextmanager
    def _outbox_statements(self, write: bool, savepoint: bool = True):
        """SQLOutbox's statements on one cursor in one transaction (reads and writes alike)."""
        with self._tx() as cur:
            def run(sql, args):
                changed = cur.execute(sql, args)
                return list(cur.fetchall()), changed
            yield run, cur.executemany

    def _missing_reference(self, exc: Exception) -> bool:
        return isinstance(exc, StoreError) and exc.db_code == ServerCode.NO_REFERENCED_ROW

    def _borrow(self):
        """A pooled connection, checked (and reopened if lost) only when it rested or its last use failed:
        DBUtils' own check (ping=1) runs under the pool's lock, so every borrow waited for another
        thread's round trip; a thousand clients starting queued on it."""
        try:
            con = self._pool.connection()
        except Exception as exc:
            raise self._translate(exc) from None
        raw = con.dbapi_connection  # a PooledMySQLConnection (mysql_connection.py)
        if raw.last_use_ok and time.monotonic() - raw.last_used < IDLE_PING:
            return con
        try:
            raw.check()
        except Exception as exc:
            self._give_back(con, False)
            raise self._translate(exc) from None
        return con

    @staticmethod
    def _give_back(con, ok: bool) -> None:
        """Back to the pool, remembering when and whether it worked (a failed one is checked next time)."""
        raw = con.dbapi_connection
        raw.last_used, raw.last_use_ok = time.monotonic(), ok
        try:
            con.close()
        except Exception:
            pass

    @staticmethod
    def _rollback(con) -> None:
        try:
            con.rollback()
        except Exception:  # the connection is gone; the server discards the transaction
            pass

    def _migrate(self) -> None:
        with self._tx() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL PRIMARY KEY) ENGINE=InnoDB")
            cur.execute("SELECT @@max_allowed_packet")
            self.max_packet = int(cur.fetchone()[0])
        migrate(self._tx)
    def create_client(self, record: ClientRecord) -> ClientRecord:
        stored = stamped(record, utcnow())
        with self._tx() as cur:
            cur.execute(f"INSERT INTO clients ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)", row_values(stored))
        return stored

    def save_client(self, record: ClientRecord) -> ClientRecord:
        with self._tx() as cur:
            self._refuse_stale(cur, [record.client_id])  # CLUSTER=on: only the lease's holder writes
            cur.execute(*_upsert_clients([stamped(record, utcnow())]))
            cur.execute(f"SELECT {COLUMNS} FROM clients WHERE client_id = %s", (record.client_id,))
            row = cur.fetchone()
        return record_from_row(row)

    def save_clients(self, records: Sequence[ClientRecord]) -> None:
        if not records:
            return
        now = utcnow()
        with self._tx() as cur:
            stale = set(self._stale_of(cur, [r.client_id for r in records]))  # CLUSTER=on: a former owner's
            kept = [stamped(r, now) for r in records if r.client_id not in stale]  # rows are dropped
            if kept:
                cur.execute(*_upsert_clients(kept))

    def get_client(self, client_id: str) -> ClientRecord | None:
        with self._tx() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM clients WHERE client_id = %s", (client_id,))
            row = cur.fetchone()
        return record_from_row(row) if row else None

    def list_clients(self) -> list[ClientRecord]:
        with self._tx() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM clients ORDER BY client_id")
            rows = cur.fetchall()
        return [record_from_row(r) for r in rows]

    def delete_client(self, client_id: str) -> bool:
        with self._tx() as cur:
            for table in ("session_snapshots", "webhooks", "events", "delivery_lanes", "outbound", "client_leases"):
                cur.execute(f"DELETE FROM {table} WHERE client_id = %s", (client_id,))
            cur.execute(FORGET_CLIENT_MEDIA.format("%s"), (FORGOTTEN_AT, client_id))
            return cur.execute("DELETE FROM clients WHERE client_id = %s", (client_id,)) > 0

    def load_snapshot(self, client_id: str) -> Snapshot | None:
        with self._tx() as cur:
            cur.execute("SELECT data, sha256, version, updated_at, generation FROM session_snapshots "
                        "WHERE client_id = %s", (client_id,))
            row = cur.fetchone()
        if row is None:
            return None
        data, sha256, version, updated_at, generation = row
        return Snapshot(client_id=client_id, data=bytes(data), sha256=sha256, version=version, updated_at=updated_at,
                        generation=generation)

    def snapshot_meta(self, client_id: str) -> SnapshotMeta | None:
        with self._tx() as cur:
            cur.execute("SELECT sha256, generation, updated_at FROM session_snapshots WHERE client_id = %s",
                        (client_id,))
            row = cur.fetchone()
        return SnapshotMeta(client_id, row[0], row[1], row[2]) if row else None

    def all_snapshot_meta(self) -> dict[str, SnapshotMeta]:
        with self._tx() as cur:
            cur.execute("SELECT client_id, sha256, generation, updated_at FROM session_snapshots")
            rows = cur.fetchall()
        return {r[0]: SnapshotMeta(r[0], r[1], r[2], r[3]) for r in rows}

    def delete_snapshot(self, client_id: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM session_snapshots WHERE client_id = %s", (client_id,))

    def ping(self) -> None:
        with self._tx() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    def close(self) -> None:
        try:
            self._pool.close()
        except Exception:
            pass
