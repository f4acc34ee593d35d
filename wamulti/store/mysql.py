"""MySQL/MariaDB store through PyMySQL, pooled with DBUtils PooledDB.

Each call borrows its own pooled connection and runs one transaction, rolled back on any error,
so an outage never leaves half a write behind. Connection-level failures become StoreUnavailable.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timezone

import pymysql
from dbutils.pooled_db import PooledDB, TooManyConnections

from .base import ClientRecord, DuplicateClient, SessionStore, Snapshot, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
IO_TIMEOUT = 30  # a 32 MiB snapshot must fit comfortably
ER_DUP_ENTRY = 1062
ER_NET_PACKET_TOO_LARGE = 1153
ER_NO_REFERENCED_ROW = 1452
CR_SERVER_GONE = 2006  # how an oversized packet often shows: the server drops the connection
PACKET_OVERHEAD = 1024  # the statement around a blob
CLIENT_MAX_PACKET = 1 << 30  # PyMySQL's own limit is 16 MiB; the server's setting is the one that counts

MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE IF NOT EXISTS clients (
            client_id  VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
            phone      VARCHAR(32) NULL,
            jid        VARCHAR(128) NULL,
            state      VARCHAR(16) NOT NULL,
            last_error VARCHAR(512) NULL,
            created_at DATETIME(6) NOT NULL,
            updated_at DATETIME(6) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
        """CREATE TABLE IF NOT EXISTS session_snapshots (
            client_id  VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
            data       LONGBLOB NOT NULL,
            sha256     CHAR(64) NOT NULL,
            version    INT NOT NULL,
            updated_at DATETIME(6) NOT NULL,
            CONSTRAINT fk_snapshot_client FOREIGN KEY (client_id) REFERENCES clients (client_id) ON DELETE CASCADE
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    ]),
]


def _binary_literal(data: bytes) -> bytes:
    """`_binary'...'` with MySQL's string escapes, about 1:1 in size.

    PyMySQL sends bytes parameters as hex (X'...'), which doubles the packet: a 32 MiB snapshot
    would need max_allowed_packet > 64 MiB. The escapes are the ones PyMySQL uses for strings.
    """
    for raw, escaped in ((b"\\", b"\\\\"), (b"\0", b"\\0"), (b"'", b"\\'"), (b'"', b'\\"'),
                         (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\x1a", b"\\Z")):
        data = data.replace(raw, escaped)
    return b"_binary'" + data + b"'"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _naive_utc(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def _code(exc: Exception) -> int | None:
    """The MySQL error number of a driver exception, if it has one."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def _is_connection_error(exc: Exception) -> bool:
    if isinstance(exc, (pymysql.err.InterfaceError, TooManyConnections, ConnectionError, OSError)):
        return True
    if isinstance(exc, pymysql.err.OperationalError):
        code = exc.args[0] if exc.args else 0
        return code in (2003, 2006, 2013, 2014, 2055, 1040, 1053, 1205, 1213, 1927) or code >= 2000
    return False


class MySQLStore(SessionStore):
    kind = "mysql"

    def __init__(self, settings):
        self._where = f"{settings.db_host}:{settings.db_port}"
        try:
            self._pool = PooledDB(
                creator=pymysql, mincached=1, maxcached=settings.db_pool_size,
                maxconnections=settings.db_pool_size, blocking=True, ping=1,
                host=settings.db_host, port=settings.db_port, user=settings.db_user,
                password=settings.db_password, database=settings.db_name, charset="utf8mb4",
                autocommit=False, connect_timeout=CONNECT_TIMEOUT, read_timeout=IO_TIMEOUT,
                write_timeout=IO_TIMEOUT, init_command="SET time_zone = '+00:00', sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')",
                max_allowed_packet=CLIENT_MAX_PACKET,
            )
        except Exception as exc:
            raise self._translate(exc) from None
        self.max_packet = 0
        self._migrate()

    def _translate(self, exc: Exception) -> StoreError:
        error = self._translate_message(exc)
        error.db_code = _code(exc)  # for callers that react to one server error
        return error

    def _translate_message(self, exc: Exception) -> StoreError:
        if _is_connection_error(exc):
            return StoreUnavailable(f"database at {self._where} unreachable ({type(exc).__name__}"
                                    f"{f' {exc.args[0]}' if exc.args and isinstance(exc.args[0], int) else ''})")
        if isinstance(exc, pymysql.err.MySQLError):
            code = exc.args[0] if exc.args else "?"
            known = {1044: "access to the database denied", 1045: "login refused (check DB_USER/DB_PASSWORD)",
                     1049: "unknown database (check DB_NAME; it must exist)"}
            return StoreError(f"database at {self._where}: {known.get(code, 'error')} ({code})")
        return StoreError(f"database error ({type(exc).__name__})")

    @contextmanager
    def _tx(self):
        """A pooled connection in one transaction; committed on success, rolled back on error."""
        try:
            con = self._pool.connection()
        except Exception as exc:
            raise self._translate(exc) from None
        try:
            with con.cursor() as cur:
                yield cur
            con.commit()
        except StoreError:
            self._rollback(con)
            raise
        except pymysql.err.IntegrityError as exc:
            self._rollback(con)
            if exc.args and exc.args[0] == ER_DUP_ENTRY:
                raise DuplicateClient(str(exc.args[1]) if len(exc.args) > 1 else "duplicate") from None
            error = StoreError(f"database integrity error {_code(exc) or ''}")
            error.db_code = _code(exc)
            raise error from None
        except Exception as exc:
            self._rollback(con)
            raise self._translate(exc) from None
        finally:
            try:
                con.close()  # back to the pool
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
        for version, statements in MIGRATIONS:
            with self._tx() as cur:
                # GET_LOCK keeps two servers starting at once from applying a migration twice
                cur.execute("SELECT GET_LOCK('wamulti_migrations', 30)")
                try:
                    cur.execute("SELECT COUNT(*) FROM schema_version WHERE version = %s", (version,))
                    if cur.fetchone()[0] == 0:
                        for statement in statements:
                            cur.execute(statement)
                        cur.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
                        log.info("database schema migrated to version %d", version)
                finally:
                    cur.execute("SELECT RELEASE_LOCK('wamulti_migrations')")

    _COLUMNS = "client_id, phone, jid, state, last_error, created_at, updated_at"

    @staticmethod
    def _record(row) -> ClientRecord:
        return ClientRecord(client_id=row[0], phone=row[1], jid=row[2], state=row[3], last_error=row[4],
                            created_at=row[5], updated_at=row[6])

    def create_client(self, record: ClientRecord) -> ClientRecord:
        now = _utcnow()
        stored = ClientRecord(record.client_id, record.state, record.phone, record.jid, record.last_error,
                              _naive_utc(record.created_at) or now, _naive_utc(record.updated_at) or now)
        with self._tx() as cur:
            cur.execute(f"INSERT INTO clients ({self._COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (stored.client_id, stored.phone, stored.jid, stored.state, stored.last_error,
                         stored.created_at, stored.updated_at))
        return stored

    def save_client(self, record: ClientRecord) -> ClientRecord:
        now = _utcnow()
        with self._tx() as cur:
            cur.execute(
                f"INSERT INTO clients ({self._COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON DUPLICATE KEY UPDATE phone=VALUES(phone), jid=VALUES(jid), state=VALUES(state), "
                "last_error=VALUES(last_error), updated_at=VALUES(updated_at)",
                (record.client_id, record.phone, record.jid, record.state, record.last_error,
                 _naive_utc(record.created_at) or now, _naive_utc(record.updated_at) or now))
            cur.execute(f"SELECT {self._COLUMNS} FROM clients WHERE client_id = %s", (record.client_id,))
            row = cur.fetchone()
        return self._record(row)

    def get_client(self, client_id: str) -> ClientRecord | None:
        with self._tx() as cur:
            cur.execute(f"SELECT {self._COLUMNS} FROM clients WHERE client_id = %s", (client_id,))
            row = cur.fetchone()
        return self._record(row) if row else None

    def list_clients(self) -> list[ClientRecord]:
        with self._tx() as cur:
            cur.execute(f"SELECT {self._COLUMNS} FROM clients ORDER BY client_id")
            rows = cur.fetchall()
        return [self._record(r) for r in rows]

    def delete_client(self, client_id: str) -> bool:
        with self._tx() as cur:
            cur.execute("DELETE FROM session_snapshots WHERE client_id = %s", (client_id,))
            return cur.execute("DELETE FROM clients WHERE client_id = %s", (client_id,)) > 0

    def save_snapshot(self, client_id: str, data: bytes, sha256: str) -> int:
        if self.max_packet and len(data) + PACKET_OVERHEAD > self.max_packet:
            raise self._too_large(len(data))
        try:
            with self._tx() as cur:
                cur.execute("SELECT sha256, version FROM session_snapshots WHERE client_id = %s FOR UPDATE",
                            (client_id,))
                row = cur.fetchone()
                if row and row[0] == sha256:
                    return row[1]
                version = (row[1] if row else 0) + 1
                head = cur.mogrify("INSERT INTO session_snapshots (client_id, data, sha256, version, updated_at) "
                                   "VALUES (%s, ", (client_id,))
                tail = cur.mogrify(", %s, %s, %s) ON DUPLICATE KEY UPDATE data=VALUES(data), sha256=VALUES(sha256), "
                                   "version=VALUES(version), updated_at=VALUES(updated_at)",
                                   (sha256, version, _utcnow()))
                cur.execute(head.encode("utf-8") + _binary_literal(data) + tail.encode("utf-8"))
                return version
        except StoreError as exc:
            code = getattr(exc, "db_code", None)
            if code == ER_NET_PACKET_TOO_LARGE or (code == CR_SERVER_GONE and len(data) > (1 << 20)):
                raise self._too_large(len(data)) from None
            if code == ER_NO_REFERENCED_ROW:
                raise StoreError(f"no client {client_id!r} to attach a snapshot to") from None
            raise

    def _too_large(self, size: int) -> StoreError:
        return StoreError(f"snapshot of {size} bytes exceeds the database's max_allowed_packet "
                          f"({self.max_packet} bytes); raise max_allowed_packet")

    def load_snapshot(self, client_id: str) -> Snapshot | None:
        with self._tx() as cur:
            cur.execute("SELECT data, sha256, version, updated_at FROM session_snapshots WHERE client_id = %s",
                        (client_id,))
            row = cur.fetchone()
        return Snapshot(client_id, bytes(row[0]), row[1], row[2], row[3]) if row else None

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
