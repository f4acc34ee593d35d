"""Scoped API keys in the store: a key row (its SHA-256, never the key) and the clients it may reach.

The statements are written once for both stores in their placeholder style ('?' for sqlite3, '%s' for
PyMySQL); each store only says how it runs them (`_key_statements`). A scope row references its
client with ON DELETE CASCADE: deleting a client takes it out of every key's reach, so a later
client with the same id is not reached by keys made for the old one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_BIN = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
_ASCII = "CHARACTER SET ascii COLLATE ascii_bin"

MYSQL_KEY_TABLES = [
    f"""CREATE TABLE IF NOT EXISTS api_keys (
        key_id       VARCHAR(32) {_ASCII} NOT NULL PRIMARY KEY,
        key_hash     CHAR(64) {_ASCII} NOT NULL,
        label        VARCHAR(100) NULL,
        created_at   DATETIME(6) NOT NULL,
        last_used_at DATETIME(6) NULL,
        UNIQUE KEY ux_api_keys_hash (key_hash)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    f"""CREATE TABLE IF NOT EXISTS api_key_clients (
        key_id    VARCHAR(32) {_ASCII} NOT NULL,
        client_id VARCHAR(64) {_BIN} NOT NULL,
        PRIMARY KEY (key_id, client_id),
        KEY ix_api_key_clients_client (client_id),
        CONSTRAINT fk_api_key_clients_key FOREIGN KEY (key_id) REFERENCES api_keys (key_id) ON DELETE CASCADE,
        CONSTRAINT fk_api_key_clients_client FOREIGN KEY (client_id) REFERENCES clients (client_id)
            ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
]
SQLITE_KEY_TABLES = """
    CREATE TABLE api_keys (
        key_id       TEXT PRIMARY KEY,
        key_hash     TEXT NOT NULL UNIQUE,
        label        TEXT,
        created_at   TEXT NOT NULL,
        last_used_at TEXT
    );
    CREATE TABLE api_key_clients (
        key_id    TEXT NOT NULL REFERENCES api_keys(key_id) ON DELETE CASCADE,
        client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
        PRIMARY KEY (key_id, client_id)
    );
    CREATE INDEX ix_api_key_clients_client ON api_key_clients (client_id)
"""


@dataclass(frozen=True)
class ApiKeyRow:
    """One scoped key as stored: the SHA-256 (hex) of the key, never the key. Times are naive UTC."""

    key_id: str
    key_hash: str
    label: str | None
    clients: tuple[str, ...]
    created_at: datetime | None = None
    last_used_at: datetime | None = None


# What a store's `_key_statements()` yields: run(sql, args) -> (rows fetched, rows changed).
RunStatement = Callable[[str, Sequence[Any]], tuple[list, int]]


class KeyStore(ABC):
    """The store's part for scoped API keys; one transaction per call, like the rest."""

    @abstractmethod
    def add_api_key(self, row: ApiKeyRow) -> list[str]:
        """Store the key with its clients, unless one of them has no row: then store nothing and
        return the missing ids (in the order given)."""

    @abstractmethod
    def api_key_by_hash(self, key_hash: str) -> ApiKeyRow | None:
        """The key with this hash and the clients it reaches now, or None (one query)."""

    @abstractmethod
    def list_api_keys(self) -> list[ApiKeyRow]:
        """Every key, oldest first."""

    @abstractmethod
    def delete_api_key(self, key_id: str) -> bool:
        """Remove the key (its scope with it); True if it existed."""

    @abstractmethod
    def touch_api_key(self, key_id: str, used_at: datetime, unless_since: datetime) -> bool:
        """Set last_used_at unless it is at or after `unless_since` already (another instance wrote it);
        True if written."""


class KeySQL:
    """The statements; `write_time` / `read_time` convert naive UTC datetimes for the store's columns."""

    def __init__(self, p: str, write_time: Callable[[datetime | None], Any], read_time: Callable[[Any], Any]):
        self.p, self.write_time, self.read_time = p, write_time, read_time
        self.select = ("SELECT k.key_id, k.key_hash, k.label, k.created_at, k.last_used_at, c.client_id "
                       "FROM api_keys k LEFT JOIN api_key_clients c ON c.key_id = k.key_id ")
        self.insert_key = (f"INSERT INTO api_keys (key_id, key_hash, label, created_at, last_used_at) "
                           f"VALUES ({p}, {p}, {p}, {p}, NULL)")
        self.insert_scope = f"INSERT INTO api_key_clients (key_id, client_id) VALUES ({p}, {p})"
        self.by_hash = self.select + f"WHERE k.key_hash = {p} ORDER BY c.client_id"
        self.every = self.select + "ORDER BY k.created_at, k.key_id, c.client_id"
        self.delete = f"DELETE FROM api_keys WHERE key_id = {p}"
        self.touch = (f"UPDATE api_keys SET last_used_at = {p} WHERE key_id = {p} "
                      f"AND (last_used_at IS NULL OR last_used_at < {p})")

    def existing_clients(self, client_ids: Sequence[str], lock: str = "") -> str:
        """Which of the ids have a client row; `lock` keeps them from being deleted until the commit."""
        return f"SELECT client_id FROM clients WHERE client_id IN ({', '.join([self.p] * len(client_ids))}){lock}"

    def rows(self, fetched: list) -> list[ApiKeyRow]:
        """Joined rows (one per key and client) folded into one ApiKeyRow per key, in their order."""
        keys: dict[str, ApiKeyRow] = {}
        for key_id, key_hash, label, created_at, last_used_at, client_id in fetched:
            row = keys.get(key_id) or ApiKeyRow(key_id, key_hash, label, (), self.read_time(created_at),
                                                self.read_time(last_used_at))
            keys[key_id] = row if client_id is None else _with_client(row, client_id)
        return list(keys.values())


def _with_client(row: ApiKeyRow, client_id: str) -> ApiKeyRow:
    return ApiKeyRow(row.key_id, row.key_hash, row.label, (*row.clients, client_id), row.created_at,
                     row.last_used_at)


class SQLKeys(KeyStore):
    """The KeyStore methods for both SQL stores, over the store's `_key_statements(write)`."""

    _key_sql: KeySQL
    _scope_lock: str = ""  # MySQL: " FOR UPDATE" (SQLite's writes are serialised anyway)

    def _key_statements(self, write: bool) -> AbstractContextManager[RunStatement]:
        """Each store's own: a RunStatement inside one transaction (a write one when `write`)."""
        raise NotImplementedError

    def add_api_key(self, row: ApiKeyRow) -> list[str]:
        sql = self._key_sql
        with self._key_statements(True) as run:
            found, _ = run(sql.existing_clients(row.clients, self._scope_lock), row.clients)
            missing = [c for c in row.clients if c not in {f[0] for f in found}]
            if missing:
                return missing
            run(sql.insert_key, (row.key_id, row.key_hash, row.label, sql.write_time(row.created_at)))
            for client_id in row.clients:
                run(sql.insert_scope, (row.key_id, client_id))
        return []

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRow | None:
        with self._key_statements(False) as run:
            fetched, _ = run(self._key_sql.by_hash, (key_hash,))
        rows = self._key_sql.rows(fetched)
        return rows[0] if rows else None

    def list_api_keys(self) -> list[ApiKeyRow]:
        with self._key_statements(False) as run:
            fetched, _ = run(self._key_sql.every, ())
        return self._key_sql.rows(fetched)

    def delete_api_key(self, key_id: str) -> bool:
        with self._key_statements(True) as run:
            _, changed = run(self._key_sql.delete, (key_id,))
        return changed > 0

    def touch_api_key(self, key_id: str, used_at: datetime, unless_since: datetime) -> bool:
        t = self._key_sql.write_time
        with self._key_statements(True) as run:
            _, changed = run(self._key_sql.touch, (t(used_at), key_id, t(unless_since)))
        return changed > 0
