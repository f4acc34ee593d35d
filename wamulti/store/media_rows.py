"""Media records in the store: one row per upload (or download, or conversion) and its interface.

Rows are per record; the bytes are content-addressed blobs elsewhere (wamulti/media), so many rows
may name one sha256. A derived row (a conversion of another) names its source and variant and keeps
the conversion's facts as JSON. The statements are written once for both stores in their placeholder
style; each store only says how it runs them (`_media_statements`, the same runner as the keys').
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_ASCII = "CHARACTER SET ascii COLLATE ascii_bin"

MYSQL_MEDIA_TABLE = [
    f"""CREATE TABLE IF NOT EXISTS media (
        media_id   VARCHAR(40) {_ASCII} NOT NULL PRIMARY KEY,
        client_id  VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
        status     VARCHAR(16) {_ASCII} NOT NULL,
        sha256     CHAR(64) {_ASCII} NULL,
        mimetype   VARCHAR(255) NULL,
        size       BIGINT NULL,
        file_name  VARCHAR(255) NULL,
        reason     VARCHAR(255) NULL,
        created_at DATETIME(6) NOT NULL,
        source_id  VARCHAR(40) {_ASCII} NULL,
        variant    VARCHAR(64) {_ASCII} NULL,
        facts      MEDIUMTEXT NULL,
        KEY ix_media_created (created_at),
        KEY ix_media_sha256 (sha256),
        UNIQUE KEY ux_media_derived (source_id, variant)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
]
SQLITE_MEDIA_TABLE = """
    CREATE TABLE media (
        media_id   TEXT PRIMARY KEY,
        client_id  TEXT,
        status     TEXT NOT NULL,
        sha256     TEXT,
        mimetype   TEXT,
        size       INTEGER,
        file_name  TEXT,
        reason     TEXT,
        created_at TEXT NOT NULL,
        source_id  TEXT,
        variant    TEXT,
        facts      TEXT
    );
    CREATE INDEX ix_media_created ON media (created_at);
    CREATE INDEX ix_media_sha256 ON media (sha256);
    CREATE UNIQUE INDEX ux_media_derived ON media (source_id, variant)
"""
COLUMNS = ("media_id, client_id, status, sha256, mimetype, size, file_name, reason, created_at, source_id, "
           "variant, facts")
REASON_MAX = 255
# A deleted client's media records get no owner and this creation time: past any MEDIA_RETENTION_HOURS,
# the next prune (MediaUpkeep, every 5 minutes) deletes them and the files no other record names.
# Meanwhile only the admin key reads them (a client re-created with the same id sees none of them).
FORGOTTEN_AT = datetime(2000, 1, 1)
FORGET_CLIENT_MEDIA = "UPDATE media SET client_id = NULL, created_at = {0} WHERE client_id = {0}"  # .format(mark)


@dataclass(frozen=True)
class MediaRow:
    """One media record as stored. `created_at` is naive UTC; `facts` is a JSON text (derived rows)."""

    media_id: str
    client_id: str | None
    status: str
    sha256: str | None = None
    mimetype: str | None = None
    size: int | None = None
    file_name: str | None = None
    reason: str | None = None
    created_at: datetime | None = None
    source_id: str | None = None
    variant: str | None = None
    facts: str | None = None


class DerivedExists(Exception):
    """A derived row of that source and variant is stored already (another thread made it first)."""


# What a store's `_media_statements()` yields: run(sql, args) -> (rows fetched, rows changed).
RunStatement = Callable[[str, Sequence[Any]], tuple[list, int]]


class MediaStore(ABC):
    """The store's part for media records; one transaction per call, like the rest."""

    @abstractmethod
    def add_media(self, row: MediaRow) -> None:
        """Insert a new record (DerivedExists if its source and variant are taken)."""

    @abstractmethod
    def update_media(self, row: MediaRow) -> bool:
        """Write a record's status, sha256, mimetype, size, file name, reason and facts; False if it is gone."""

    @abstractmethod
    def get_media(self, media_id: str) -> MediaRow | None:
        """One record, or None."""

    @abstractmethod
    def derived_media(self, source_id: str, variant: str) -> MediaRow | None:
        """The record derived from `source_id` as `variant`, or None."""

    @abstractmethod
    def old_media(self, before: datetime, limit: int, after: tuple[datetime, str] | None = None) -> list[MediaRow]:
        """Up to `limit` records created before `before`, oldest first (retention's candidates); with `after`
        (a record's created_at and media_id) only those after it in that order (the next page)."""

    @abstractmethod
    def delete_media(self, media_ids: Sequence[str]) -> int:
        """Remove these records; how many there were."""

    @abstractmethod
    def sha256_in_use(self, sha256s: Sequence[str]) -> set[str]:
        """Which of these sha256s some record still names (its blob must stay)."""


class MediaSQL:
    """The statements; `write_time` / `read_time` convert naive UTC datetimes for the store's columns."""

    def __init__(self, p: str, write_time: Callable[[datetime | None], Any], read_time: Callable[[Any], Any]):
        self.p, self.write_time, self.read_time = p, write_time, read_time
        self.insert = f"INSERT INTO media ({COLUMNS}) VALUES ({', '.join([p] * 12)})"
        self.update = (f"UPDATE media SET status = {p}, sha256 = {p}, mimetype = {p}, size = {p}, file_name = {p}, "
                       f"reason = {p}, facts = {p} WHERE media_id = {p}")
        self.by_id = f"SELECT {COLUMNS} FROM media WHERE media_id = {p}"
        self.derived = f"SELECT {COLUMNS} FROM media WHERE source_id = {p} AND variant = {p}"
        self.old = f"SELECT {COLUMNS} FROM media WHERE created_at < {p} ORDER BY created_at, media_id LIMIT {p}"
        self.old_after = (f"SELECT {COLUMNS} FROM media WHERE created_at < {p} AND (created_at > {p} OR "
                          f"(created_at = {p} AND media_id > {p})) ORDER BY created_at, media_id LIMIT {p}")

    def listed(self, head: str, values: Sequence[Any]) -> str:
        """`head` followed by an IN list of as many placeholders as `values`."""
        return f"{head} ({', '.join([self.p] * len(values))})"

    def values(self, row: MediaRow) -> tuple:
        return (row.media_id, row.client_id, row.status, row.sha256, row.mimetype, row.size, row.file_name,
                _short(row.reason), self.write_time(row.created_at), row.source_id, row.variant, row.facts)

    def row(self, values: Sequence[Any]) -> MediaRow:
        (media_id, client_id, status, sha256, mimetype, size, file_name, reason, created_at, source_id,
         variant, facts) = values
        return MediaRow(media_id, client_id, status, sha256, mimetype, None if size is None else int(size),
                        file_name, reason, self.read_time(created_at), source_id, variant, facts)


def _short(reason: str | None) -> str | None:
    return None if reason is None else reason[:REASON_MAX]


class SQLMedia(MediaStore):
    """The MediaStore methods for both SQL stores, over the store's `_media_statements(write)`."""

    _media_sql: MediaSQL

    def _media_statements(self, write: bool) -> AbstractContextManager[RunStatement]:
        """Each store's own: a RunStatement inside one transaction (a write one when `write`)."""
        raise NotImplementedError

    def _is_duplicate(self, exc: Exception) -> bool:
        """Whether `exc` is the store's unique-key violation."""
        raise NotImplementedError

    def add_media(self, row: MediaRow) -> None:
        try:
            with self._media_statements(True) as run:
                run(self._media_sql.insert, self._media_sql.values(row))
        except Exception as exc:
            if self._is_duplicate(exc):
                raise DerivedExists(row.source_id) from None
            raise

    def update_media(self, row: MediaRow) -> bool:
        with self._media_statements(True) as run:
            _, changed = run(self._media_sql.update, (row.status, row.sha256, row.mimetype, row.size,
                                                      row.file_name, _short(row.reason), row.facts, row.media_id))
        return changed > 0

    def _one_media(self, sql: str, args: Sequence[Any]) -> MediaRow | None:
        with self._media_statements(False) as run:
            fetched, _ = run(sql, args)
        return self._media_sql.row(fetched[0]) if fetched else None

    def get_media(self, media_id: str) -> MediaRow | None:
        return self._one_media(self._media_sql.by_id, (media_id,))

    def derived_media(self, source_id: str, variant: str) -> MediaRow | None:
        return self._one_media(self._media_sql.derived, (source_id, variant))

    def old_media(self, before: datetime, limit: int, after: tuple[datetime, str] | None = None) -> list[MediaRow]:
        t = self._media_sql.write_time
        with self._media_statements(False) as run:
            if after is None:
                fetched, _ = run(self._media_sql.old, (t(before), limit))
            else:
                fetched, _ = run(self._media_sql.old_after, (t(before), t(after[0]), t(after[0]), after[1], limit))
        return [self._media_sql.row(values) for values in fetched]

    def delete_media(self, media_ids: Sequence[str]) -> int:
        if not media_ids:
            return 0
        with self._media_statements(True) as run:
            _, changed = run(self._media_sql.listed("DELETE FROM media WHERE media_id IN", media_ids), media_ids)
        return changed

    def sha256_in_use(self, sha256s: Sequence[str]) -> set[str]:
        if not sha256s:
            return set()
        with self._media_statements(False) as run:
            fetched, _ = run(self._media_sql.listed("SELECT DISTINCT sha256 FROM media WHERE sha256 IN", sha256s),
                             list(sha256s))
        return {values[0] for values in fetched}
