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

from .base import (ClientRecord, DuplicateClient, SessionStore, Snapshot, SnapshotMeta, SnapshotWrite, StoreError,
                   StoreUnavailable)
from .key_rows import KeySQL, SQLKeys
from .mysql_codes import ACCESS_PROBLEMS, CONNECTION_CODES, FIRST_CLIENT_CODE, ServerCode
from .mysql_connection import PyMySQLDriver
from .mysql_outbound import MySQLOutbound
from .mysql_outbox import MySQLOutbox
from .mysql_schema import migrate
from .rows import COLUMNS, record_from_row, row_values, stamped, utcnow

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
IDLE_PING = 1.0  # seconds a pooled connection may rest before its next borrow checks it first
NEVER_PING = 0  # DBUtils' ping setting for "never": _borrow checks, outside the pool's lock
IO_TIMEOUT = 30  # a 32 MiB snapshot must fit comfortably
PACKET_OVERHEAD = 1024  # the statement around a blob
# two clients' first snapshots can deadlock on the gap both locked; InnoDB undoes one, which runs again
DEADLOCK_TRIES = 3
CLIENT_MAX_PACKET = 1 << 30  # PyMySQL's own limit is 16 MiB; the server's setting is the one that counts
# times are UTC; backslash escapes must work for _binary_literal
SESSION_SETUP = "SET time_zone = '+00:00', sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')"

_UPSERT_CLIENT = (f"INSERT INTO clients ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                  "ON DUPLICATE KEY UPDATE phone=VALUES(phone), jid=VALUES(jid), state=VALUES(state), "
                  "last_error=VALUES(last_error), updated_at=VALUES(updated_at)")
_UPSERT_HEAD = "INSERT INTO session_snapshots (client_id, data, sha256, version, generation, updated_at) VALUES "
_UPSERT_TAIL = (" ON DUPLICATE KEY UPDATE data=VALUES(data), sha256=VALUES(sha256), version=version+1, "
                "generation=VALUES(generation), updated_at=VALUES(updated_at)")


def _binary_literal(data: bytes) -> bytes:
    """`_binary'...'` with MySQL's string escapes, about 1:1 in size.

    PyMySQL sends bytes parameters as hex (X'...'), which doubles the packet: a 32 MiB snapshot
    would need max_allowed_packet > 64 MiB. The escapes are the ones PyMySQL uses for strings.
    """
    for raw, escaped in ((b"\\", b"\\\\"), (b"\0", b"\\0"), (b"'", b"\\'"), (b'"', b'\\"'),
                         (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\x1a", b"\\Z")):
        data = data.replace(raw, escaped)
    return b"_binary'" + data + b"'"


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


class MySQLStore(MySQLOutbox, MySQLOutbound, SQLKeys, SessionStore):
    kind = "mysql"
    _key_sql = KeySQL("%s", lambda t: t, lambda t: t)
    _scope_lock = " FOR UPDATE"  # a client deleted meanwhile waits for the key's commit

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
            cur.execute(_UPSERT_CLIENT, row_values(stamped(record, utcnow())))
            cur.execute(f"SELECT {COLUMNS} FROM clients WHERE client_id = %s", (record.client_id,))
            row = cur.fetchone()
        return record_from_row(row)

    def save_clients(self, records: Sequence[ClientRecord]) -> None:
        now = utcnow()
        with self._tx() as cur:
            cur.executemany(_UPSERT_CLIENT, [row_values(stamped(r, now)) for r in records])

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
            for table in ("session_snapshots", "webhooks", "events", "delivery_lanes", "outbound"):
                cur.execute(f"DELETE FROM {table} WHERE client_id = %s", (client_id,))
            return cur.execute("DELETE FROM clients WHERE client_id = %s", (client_id,)) > 0

    def save_snapshot(self, client_id: str, data: bytes, sha256: str) -> int:
        return self._again_after_deadlock(self._save_snapshot, client_id, data, sha256)

    def save_snapshots(self, writes: Sequence[SnapshotWrite]) -> list[bool]:
        return self._again_after_deadlock(self._save_snapshots, writes)

    @staticmethod
    def _again_after_deadlock(write, *args):
        for attempt in range(DEADLOCK_TRIES):
            try:
                return write(*args)
            except StoreError as exc:  # nothing of the undone transaction was stored
                if exc.db_code != ServerCode.LOCK_DEADLOCK or attempt == DEADLOCK_TRIES - 1:
                    raise

    def _save_snapshot(self, client_id: str, data: bytes, sha256: str) -> int:
        self._check_size(len(data))
        try:
            with self._tx() as cur:
                cur.execute("SELECT sha256, version, generation FROM session_snapshots WHERE client_id = %s "
                            "FOR UPDATE", (client_id,))
                row = cur.fetchone()
                if row and row[0] == sha256:
                    return row[1]
                write = SnapshotWrite(client_id, data, sha256, (row[2] if row else 0) + 1)
                cur.execute(_UPSERT_HEAD.encode() + self._row_literal(cur, write) + _UPSERT_TAIL.encode())
                return (row[1] if row else 0) + 1
        except StoreError as exc:
            raise self._snapshot_error(exc, len(data), f"no client {client_id!r} to attach a snapshot to") from None

    def _save_snapshots(self, writes: Sequence[SnapshotWrite]) -> list[bool]:
        for w in writes:
            self._check_size(len(w.data))
        ids = [w.client_id for w in writes]
        try:
            with self._tx() as cur:
                if not ids:
                    return []
                cur.execute("SELECT client_id, generation FROM session_snapshots WHERE client_id IN "
                            f"({', '.join(['%s'] * len(ids))}) FOR UPDATE", ids)
                held = dict(cur.fetchall())
                stored = []
                for w in writes:  # in order, so a batch never lets an older write follow a newer one
                    stored.append(held.get(w.client_id, -1) < w.generation)
                    held[w.client_id] = max(held.get(w.client_id, -1), w.generation)
                for chunk in self._packets([w for w, ok in zip(writes, stored) if ok]):
                    rows = b", ".join(self._row_literal(cur, w) for w in chunk)
                    cur.execute(_UPSERT_HEAD.encode() + rows + _UPSERT_TAIL.encode())
                return stored
        except StoreError as exc:
            raise self._snapshot_error(exc, max(len(w.data) for w in writes), "a snapshot's client has no row") from None

    def _packets(self, writes: list[SnapshotWrite]) -> list[list[SnapshotWrite]]:
        """The writes in groups whose statement fits max_allowed_packet (escaping adds a little)."""
        limit = (self.max_packet or (16 << 20)) // 2
        groups: list[list[SnapshotWrite]] = []
        size = limit
        for w in writes:
            if size + len(w.data) + PACKET_OVERHEAD > limit:
                groups.append([])
                size = 0
            groups[-1].append(w)
            size += len(w.data) + PACKET_OVERHEAD
        return groups

    @staticmethod
    def _row_literal(cur, w: SnapshotWrite) -> bytes:
        head = cur.mogrify("(%s, ", (w.client_id,))
        tail = cur.mogrify(", %s, 1, %s, %s)", (w.sha256, w.generation, utcnow()))
        return head.encode("utf-8") + _binary_literal(w.data) + tail.encode("utf-8")

    def _check_size(self, size: int) -> None:
        if self.max_packet and size + PACKET_OVERHEAD > self.max_packet:
            raise self._too_large(size)

    def _snapshot_error(self, exc: StoreError, largest: int, no_row: str) -> StoreError:
        code = exc.db_code
        if code == ServerCode.NET_PACKET_TOO_LARGE or (code == ServerCode.SERVER_GONE and largest > (1 << 20)):
            return self._too_large(largest)
        if code == ServerCode.NO_REFERENCED_ROW:
            return StoreError(no_row)
        return exc

    def _too_large(self, size: int) -> StoreError:
        return StoreError(f"snapshot of {size} bytes exceeds the database's max_allowed_packet "
                          f"({self.max_packet} bytes); raise max_allowed_packet")

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
