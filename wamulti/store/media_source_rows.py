"""Where an incoming attachment came from (media_sources), and which media undelivered events name.

A media source row keeps what a later retry needs to download the attachment again: the client, the
message and chat it came with, and the backend's opaque download reference (neonize: the serialized
media protobuf). The events table's `media_id` column (migration 9) names the media an event carries,
so the media store can ask which files an undelivered event still refers to before it deletes any.
The statements run on each store's `_outbox_statements` (event_sql.py), in its placeholder style.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import NotFound

_BIN = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
_ASCII = "CHARACTER SET ascii COLLATE ascii_bin"
COLUMNS = "media_id, client_id, message_id, chat, kind, ref, created_at"
ID_BATCH = 500  # ids per IN (...) list

MYSQL_MEDIA_SOURCES = [
    f"ALTER TABLE events ADD COLUMN media_id VARCHAR(64) {_ASCII} NULL",
    "ALTER TABLE events ADD INDEX ix_events_media (media_id)",
    f"""CREATE TABLE IF NOT EXISTS media_sources (
        media_id   VARCHAR(64) {_ASCII} NOT NULL PRIMARY KEY,
        client_id  VARCHAR(64) {_BIN} NOT NULL,
        message_id VARCHAR(128) {_BIN} NOT NULL,
        chat       VARCHAR(128) {_BIN} NOT NULL,
        kind       VARCHAR(16) {_ASCII} NOT NULL,
        ref        MEDIUMBLOB NULL,
        created_at DATETIME(6) NOT NULL,
        KEY ix_media_sources_client (client_id),
        CONSTRAINT fk_media_source_client FOREIGN KEY (client_id) REFERENCES clients (client_id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
]
SQLITE_MEDIA_SOURCES = """
    ALTER TABLE events ADD COLUMN media_id TEXT;
    CREATE INDEX ix_events_media ON events (media_id);
    CREATE TABLE media_sources (
        media_id   TEXT PRIMARY KEY,
        client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        chat       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        ref        BLOB,
        created_at TEXT NOT NULL
    );
    CREATE INDEX ix_media_sources_client ON media_sources (client_id)
"""


@dataclass(frozen=True)
class MediaSourceRow:
    """An incoming attachment's origin; `ref` is the backend's download reference. Naive UTC."""

    media_id: str
    client_id: str
    message_id: str
    chat: str
    kind: str  # image, video, audio, voice, document, sticker
    ref: bytes | None
    created_at: datetime | None = None


class MediaSourceStore(ABC):
    """The store's part for incoming media; one transaction per call."""

    @abstractmethod
    def save_media_source(self, row: MediaSourceRow) -> None:
        """Insert the row (NotFound when its client does not exist, e.g. deleted meanwhile)."""

    @abstractmethod
    def get_media_source(self, media_id: str) -> MediaSourceRow | None:
        """The row, or None."""

    @abstractmethod
    def delete_media_sources(self, media_ids: Sequence[str]) -> int:
        """Remove these rows (their media was pruned); how many were there."""

    @abstractmethod
    def media_ids_in_undelivered_events(self, ids: list[str]) -> set[str]:
        """Those of `ids` that a stored event still waiting for delivery (pending) refers to."""


def _batches(ids: Sequence[str]):
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), ID_BATCH):
        yield unique[start:start + ID_BATCH]


class SQLMediaSources(MediaSourceStore):
    """The MediaSourceStore methods for both SQL stores, over the store's `_outbox_statements`."""

    def save_media_source(self, row: MediaSourceRow) -> None:
        d = self._outbox_sql.d
        values = (row.media_id, row.client_id, row.message_id, row.chat, row.kind, row.ref, d.write_time(row.created_at))
        try:
            with self._outbox_statements(True, savepoint=False) as (run, _):
                run(f"INSERT INTO media_sources ({COLUMNS}) VALUES ({', '.join([d.p] * 7)})", values)
        except Exception as exc:
            if self._missing_reference(exc):
                raise NotFound(f"No client with id '{row.client_id}'.") from None
            raise

    def get_media_source(self, media_id: str) -> MediaSourceRow | None:
        d = self._outbox_sql.d
        with self._outbox_statements(False) as (run, _):
            rows, _ = run(f"SELECT {COLUMNS} FROM media_sources WHERE media_id = {d.p}", (media_id,))
        if not rows:
            return None
        media_id, client_id, message_id, chat, kind, ref, created_at = rows[0]
        return MediaSourceRow(media_id, client_id, message_id, chat, kind, None if ref is None else bytes(ref),
                              d.read_time(created_at))

    def delete_media_sources(self, media_ids: Sequence[str]) -> int:
        d, deleted = self._outbox_sql.d, 0
        for batch in _batches(media_ids):
            with self._outbox_statements(True) as (run, _):
                _, changed = run(f"DELETE FROM media_sources WHERE media_id IN ({', '.join([d.p] * len(batch))})",
                                 batch)
            deleted += changed
        return deleted

    def media_ids_in_undelivered_events(self, ids: list[str]) -> set[str]:
        d, found = self._outbox_sql.d, set()
        for batch in _batches(ids):
            with self._outbox_statements(False) as (run, _):
                rows, _ = run(f"SELECT DISTINCT media_id FROM events WHERE media_id IN "
                              f"({', '.join([d.p] * len(batch))}) AND delivery = 'pending'", batch)
            found.update(r[0] for r in rows)
        return found
