"""The session store interface: client rows, session snapshots, the event outbox (event_rows.py), the
outbound send queue (send_rows.py), scoped API keys (key_rows.py) and media records (media_rows.py).

The store is the source of truth for client rows; for session keys the local file under DATA_DIR
is primary and the store keeps generation-numbered snapshots of it (sessions/persistence.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .event_rows import OutboxStore
from .key_rows import KeyStore
from .media_rows import MediaStore
from .media_source_rows import MediaSourceStore
from .send_rows import OutboundStore


class StoreError(Exception):
    """A store operation failed for a reason that retrying will not fix (message is safe to show)."""

    db_code: int | None
    """The database server's error number behind the failure (see mysql.ServerCode), else None."""

    def __init__(self, *args: object, db_code: int | None = None):
        super().__init__(*args)
        self.db_code = db_code


class StoreUnavailable(StoreError):
    """The database cannot be reached right now; nothing was written."""


class DuplicateClient(StoreError):
    """A client row with that id exists already."""


@dataclass(frozen=True)
class ClientRecord:
    """One client row. Times are naive UTC datetimes (microsecond precision)."""

    client_id: str
    state: str
    phone: str | None = None
    jid: str | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    """A stored session snapshot: opaque bytes (already compressed by the caller) and their sha256."""

    client_id: str
    data: bytes
    sha256: str
    version: int
    updated_at: datetime | None = None
    generation: int = 0  # the lineage counter also kept next to the local file (sessions/persistence.py)


@dataclass(frozen=True)
class SnapshotMeta:
    """What is known of a stored snapshot without its bytes."""

    client_id: str
    sha256: str
    generation: int
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SnapshotWrite:
    """One snapshot to store under the generation its writer gave it."""

    client_id: str
    data: bytes
    sha256: str
    generation: int


class SessionStore(OutboxStore, OutboundStore, KeyStore, MediaSourceStore, MediaStore, ABC):
    """Thread-safe persistence for clients and their session snapshots.

    Every method may raise StoreUnavailable (database unreachable; nothing half-written) or
    StoreError. Implementations borrow a connection per call and use one transaction per call.
    """

    kind: str = ""  # "mysql" or "sqlite"

    @abstractmethod
    def create_client(self, record: ClientRecord) -> ClientRecord:
        """Insert a new client row; raise DuplicateClient if the id exists. Returns the stored row."""

    @abstractmethod
    def save_client(self, record: ClientRecord) -> ClientRecord:
        """Insert or update a client's row (phone, jid, state, last_error); sets updated_at."""

    @abstractmethod
    def save_clients(self, records: Sequence[ClientRecord]) -> None:
        """save_client for several rows in one transaction."""

    @abstractmethod
    def get_client(self, client_id: str) -> ClientRecord | None:
        """The client's row, or None."""

    @abstractmethod
    def list_clients(self) -> list[ClientRecord]:
        """All client rows, sorted by client_id."""

    @abstractmethod
    def delete_client(self, client_id: str) -> bool:
        """Remove the client's row, snapshot, events, delivery lane and webhook in one transaction;
        True if a row existed."""

    @abstractmethod
    def save_snapshot(self, client_id: str, data: bytes, sha256: str) -> int:
        """Store a snapshot unless the stored one has the same sha256 (generation: the stored one's + 1);
        return the stored version."""

    @abstractmethod
    def save_snapshots(self, writes: Sequence[SnapshotWrite]) -> list[bool]:
        """Store several snapshots in one transaction, each only if its generation is higher than the
        stored one's (never older over newer); per write, whether it was stored. A write for a client
        without a row fails the whole call with StoreError."""

    @abstractmethod
    def load_snapshot(self, client_id: str) -> Snapshot | None:
        """The client's latest snapshot, or None."""

    @abstractmethod
    def snapshot_meta(self, client_id: str) -> SnapshotMeta | None:
        """The stored snapshot's sha256, generation and time, without its bytes; None if there is none."""

    @abstractmethod
    def all_snapshot_meta(self) -> dict[str, SnapshotMeta]:
        """snapshot_meta of every client that has a stored snapshot, by client id, in one query (start-up
        reads them all at once instead of one round trip per client)."""

    @abstractmethod
    def delete_snapshot(self, client_id: str) -> None:
        """Remove the client's snapshot (e.g. after a logout); the client row stays."""

    @abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers now."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
