"""The embedded default store: one SQLite file in DATA_DIR (stdlib sqlite3, WAL mode).

Only the server process's own store lives here; whatsmeow's session files are never opened
with sqlite3 in the server process (see sessions/session_file.py).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from .client_rows import COLUMNS, read_time, record_from_row, row_values, stamped, text_time, utcnow
from .event_sql import SQLITE_OUTBOX_TABLES, OutboxDialect, OutboxSQL, SQLOutbox, sqlite_lease_until
from .key_rows import SQLITE_KEY_TABLES, KeySQL, SQLKeys
from .media_source_rows import SQLITE_MEDIA_SOURCES, SQLMediaSources
from .media_rows import SQLITE_MEDIA_TABLE, MediaSQL, SQLMedia
from .sqlite_commit import BatchFailed, GroupCommit
from .sqlite_pool import ConnectionPool
from .sqlite_sends import OUTBOUND_OWNER, OUTBOUND_PAYLOAD, OUTBOUND_TABLE, SQLiteOutbound
from .store_api import (ClientRecord, DuplicateClient, SessionStore, Snapshot, SnapshotMeta, SnapshotWrite, StoreError,
                        StoreUnavailable)

FILE_NAME = "wamulti.db"

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
        CREATE TABLE clients (
            client_id  TEXT PRIMARY KEY,
            phone      TEXT,
            jid        TEXT,
            state      TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE session_snapshots (
            client_id  TEXT PRIMARY KEY REFERENCES clients(client_id) ON DELETE CASCADE,
            data       BLOB NOT NULL,
            sha256     TEXT NOT NULL,
            version    INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
    """),
    (2, SQLITE_OUTBOX_TABLES),  # events, delivery lanes, webhooks
    (3, OUTBOUND_TABLE),  # the outbound send queue
    (4, """
        ALTER TABLE session_snapshots ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
        UPDATE session_snapshots SET generation = version
    """),  # the snapshot's generation, compared with the local file's sidecar
    (5, OUTBOUND_OWNER),  # who took a send (its instance), and old rows found by state
    (6, SQLITE_KEY_TABLES),  # scoped API keys and the clients each reaches
    (7, SQLITE_MEDIA_TABLE),  # media records (their bytes are blobs: wamulti/media)
    (8, OUTBOUND_PAYLOAD),  # a send's media, location, contact or reply; the media it keeps alive
    (9, SQLITE_MEDIA_SOURCES),  # incoming media's origins; the media an event carries
]
_UPSERT_CLIENT = (f"INSERT INTO clients ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT(client_id) DO UPDATE SET phone=excluded.phone, jid=excluded.jid, "
                  "state=excluded.state, last_error=excluded.last_error, updated_at=excluded.updated_at")
_UPSERT_SNAPSHOT = (
    "INSERT INTO session_snapshots (client_id, data, sha256, version, generation, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(client_id) DO UPDATE SET data=excluded.data, sha256=excluded.sha256, "
    "version=excluded.version, generation=excluded.generation, updated_at=excluded.updated_at")

_OUTBOX_SQL = OutboxSQL(OutboxDialect(
    p="?", write_time=text_time, read_time=read_time, keep_existing="ON CONFLICT DO NOTHING",
    upsert="ON CONFLICT(client_id) DO UPDATE SET",
    # SQLite's DELETE takes no LIMIT unless built with SQLITE_ENABLE_UPDATE_DELETE_LIMIT
    prune="DELETE FROM events WHERE event_id IN (SELECT event_id FROM events WHERE event_id < ? "
          "AND delivery <> ? ORDER BY event_id LIMIT ?)",
    now=lambda: ("?", (text_time(utcnow()),)),
    lease_until=lambda seconds: sqlite_lease_until(seconds, text_time)))

CLOSE_WAIT_SECONDS = 5.0
READERS_KEPT = 8  # idle read connections kept open; more are opened when needed and closed after


def _text(dt: datetime | None) -> str:
    """A row's time as stored; a missing one is now."""
    return text_time(dt or utcnow())


class SQLiteStore(SQLOutbox, SQLiteOutbound, SQLKeys, SQLMediaSources, SQLMedia, SessionStore):
    """One WAL-mode file: writes go through a GroupCommit (one connection, many writes per
    transaction), reads borrow a connection from a small pool; each call is one transaction."""

    kind = "sqlite"
    _key_sql = KeySQL("?", text_time, read_time)
    _media_sql = MediaSQL("?", text_time, read_time)
    _outbox_sql = _OUTBOX_SQL

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / FILE_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._readers = ConnectionPool(self._connect, READERS_KEPT)
        self._writes = GroupCommit(self._connect)
        # close() must not free a connection another thread is inside (sqlite3 may then crash the
        # process): transactions are counted, and close() waits for them (bounded) before closing
        self._in_use_lock = threading.Lock()  # taken directly on each call: a Python call less than the condition
        self._in_use = threading.Condition(self._in_use_lock)
        self._active = 0
        self._closed = False
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        return con

    @property
    def commits(self) -> int:
        """Write transactions committed so far (tests and benchmarks read it)."""
        return self._writes.commits

    @contextmanager
    def _tx(self, immediate: bool = False, savepoint: bool = True):
        """A connection in a transaction: a write (immediate) joins the group commit, a read has its own;
        savepoint=False for a write of one statement (GroupCommit.write)."""
        with self._in_use_lock:
            if self._closed:
                raise StoreUnavailable("embedded store is closed")
            self._active += 1
        try:
            with (self._writes.write(savepoint) if immediate else self._read()) as con:
                yield con
        except sqlite3.IntegrityError:
            raise  # callers name the conflict
        except (BatchFailed, sqlite3.Error) as exc:
            raise _translated(exc) from None
        finally:
            with self._in_use_lock:
                self._active -= 1
                if self._closed and not self._active:
                    self._in_use.notify_all()  # close() waits for this

    @contextmanager
    def _read(self):
        with self._readers.borrowed() as con:
            con.execute("BEGIN")
            try:
                yield con
            finally:
                con.execute("COMMIT")  # a read transaction: ends it, nothing to undo

    @contextmanager
    def _key_statements(self, write: bool):
        """SQLKeys' statements in one transaction: a write joins the group commit, a read has its own."""
        with self._tx(immediate=write) as con:
            def run(sql, args):
                cur = con.execute(sql, args)
                return cur.fetchall(), cur.rowcount
            yield run

    _media_statements = _key_statements  # the same one-transaction runner

    def _is_duplicate(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError)  # _tx lets these through unchanged

    @contextmanager
    def _outbox_statements(self, write: bool, savepoint: bool = True):
        """SQLOutbox's statements in one transaction: a write joins the group commit, a read has its own."""
        with self._tx(immediate=write, savepoint=savepoint) as con:
            def run(sql, args):
                cur = con.execute(sql, args)
                return cur.fetchall(), cur.rowcount
            yield run, con.executemany

    def _missing_reference(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError)  # _tx lets these through unchanged

    def _migrate(self) -> None:
        with self._tx(immediate=True) as con:
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = con.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, sql in MIGRATIONS:
                if version > current:
                    for statement in filter(str.strip, sql.split(";")):
                        con.execute(statement)
                    con.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    def create_client(self, record: ClientRecord) -> ClientRecord:
        stored = stamped(record, utcnow())
        try:
            with self._tx(immediate=True) as con:
                con.execute(f"INSERT INTO clients ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row_values(stored, _text))
        except sqlite3.IntegrityError:
            raise DuplicateClient(f"client {record.client_id!r} exists") from None
        return stored

    def save_client(self, record: ClientRecord) -> ClientRecord:
        with self._tx(immediate=True) as con:
            con.execute(_UPSERT_CLIENT, row_values(stamped(record, utcnow()), _text))
            row = con.execute(f"SELECT {COLUMNS} FROM clients WHERE client_id = ?", (record.client_id,)).fetchone()
        return record_from_row(row, read_time)

    def save_clients(self, records: Sequence[ClientRecord]) -> None:
        now = utcnow()
        with self._tx(immediate=True) as con:
            con.executemany(_UPSERT_CLIENT, [row_values(stamped(r, now), _text) for r in records])

    def get_client(self, client_id: str) -> ClientRecord | None:
        with self._tx() as con:
            row = con.execute(f"SELECT {COLUMNS} FROM clients WHERE client_id = ?", (client_id,)).fetchone()
        return record_from_row(row, read_time) if row else None

    def list_clients(self) -> list[ClientRecord]:
        with self._tx() as con:
            rows = con.execute(f"SELECT {COLUMNS} FROM clients ORDER BY client_id").fetchall()
        return [record_from_row(r, read_time) for r in rows]

    def delete_client(self, client_id: str) -> bool:
        with self._tx(immediate=True) as con:
            for table in ("session_snapshots", "webhooks", "events", "delivery_lanes", "outbound"):
                con.execute(f"DELETE FROM {table} WHERE client_id = ?", (client_id,))
            return con.execute("DELETE FROM clients WHERE client_id = ?", (client_id,)).rowcount > 0

    def save_snapshot(self, client_id: str, data: bytes, sha256: str) -> int:
        try:
            with self._tx(immediate=True) as con:
                row = con.execute("SELECT sha256, version, generation FROM session_snapshots WHERE client_id = ?",
                                  (client_id,)).fetchone()
                if row and row[0] == sha256:
                    return row[1]
                version, generation = (row[1] + 1, row[2] + 1) if row else (1, 1)
                con.execute(_UPSERT_SNAPSHOT,
                            (client_id, sqlite3.Binary(data), sha256, version, generation, _text(None)))
                return version
        except sqlite3.IntegrityError:
            raise StoreError(f"no client {client_id!r} to attach a snapshot to") from None

    def save_snapshots(self, writes: Sequence[SnapshotWrite]) -> list[bool]:
        stored: list[bool] = []
        try:
            with self._tx(immediate=True) as con:
                for w in writes:
                    row = con.execute("SELECT version, generation FROM session_snapshots WHERE client_id = ?",
                                      (w.client_id,)).fetchone()
                    stored.append(row is None or row[1] < w.generation)
                    if stored[-1]:
                        con.execute(_UPSERT_SNAPSHOT, (w.client_id, sqlite3.Binary(w.data), w.sha256,
                                                       (row[0] if row else 0) + 1, w.generation, _text(None)))
        except sqlite3.IntegrityError:
            raise StoreError("a snapshot's client has no row") from None
        return stored

    def load_snapshot(self, client_id: str) -> Snapshot | None:
        with self._tx() as con:
            row = con.execute("SELECT data, sha256, version, updated_at, generation FROM session_snapshots "
                              "WHERE client_id = ?", (client_id,)).fetchone()
        if row is None:
            return None
        data, sha256, version, updated_at, generation = row
        return Snapshot(client_id=client_id, data=bytes(data), sha256=sha256, version=version,
                        updated_at=read_time(updated_at), generation=generation)

    def snapshot_meta(self, client_id: str) -> SnapshotMeta | None:
        with self._tx() as con:
            row = con.execute("SELECT sha256, generation, updated_at FROM session_snapshots WHERE client_id = ?",
                              (client_id,)).fetchone()
        return SnapshotMeta(client_id, row[0], row[1], read_time(row[2])) if row else None

    def all_snapshot_meta(self) -> dict[str, SnapshotMeta]:
        with self._tx() as con:
            rows = con.execute("SELECT client_id, sha256, generation, updated_at FROM session_snapshots").fetchall()
        return {r[0]: SnapshotMeta(r[0], r[1], r[2], read_time(r[3])) for r in rows}

    def delete_snapshot(self, client_id: str) -> None:
        with self._tx(immediate=True) as con:
            con.execute("DELETE FROM session_snapshots WHERE client_id = ?", (client_id,))

    def ping(self) -> None:
        with self._tx() as con:
            con.execute("SELECT 1").fetchone()

    def close(self, wait: float = CLOSE_WAIT_SECONDS) -> None:
        with self._in_use:
            self._closed = True
            if not self._in_use.wait_for(lambda: self._active == 0, wait):
                return  # a transaction is still running: leave the connections to the process's end
        self._writes.close()
        self._readers.close()


def _translated(exc: Exception) -> StoreError:
    """SQLite's errors as the store's (IntegrityError is not translated: callers name the conflict)."""
    if isinstance(exc, BatchFailed):
        return StoreUnavailable(f"embedded store error: {exc.cause}")
    if isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailable(f"embedded store error: {exc}")
    return StoreError(f"embedded store error: {type(exc).__name__}")
