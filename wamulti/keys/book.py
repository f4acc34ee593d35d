"""ApiKeys: make, list and revoke scoped keys, and tell whom a presented key acts for.

Nothing is cached: every request with a scoped key reads its row (one indexed query by the key's
hash), so a key revoked through any instance sharing the store is refused on the next request.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import NotFound
from ..store.client_rows import utcnow
from ..store.key_rows import ApiKeyRow, KeyStore
from ..store.store_api import StoreError
from .checks import check_clients, check_label
from .principal import Principal
from .secret import is_key_id, key_hash, looks_like_key, new_key, new_key_id

log = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(seconds=60)  # lastUsedAt is written at most this often per key


@dataclass(frozen=True)
class KeyInfo:
    """A key as the admin sees it: never the key, never its hash."""

    key_id: str
    label: str | None
    clients: tuple[str, ...]
    created_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    """A key just made: its info and the key itself, shown this once."""

    info: KeyInfo
    key: str


def _info(row: ApiKeyRow) -> KeyInfo:
    return KeyInfo(row.key_id, row.label, row.clients, row.created_at, row.last_used_at)


class ApiKeys:
    """The scoped keys in a store; thread-safe (each call is its own store transaction)."""

    def __init__(self, store: KeyStore, clock: Callable[[], datetime] = utcnow):
        self._store = store
        self._clock = clock  # naive UTC now (tests move it to see lastUsedAt's throttle)

    def create(self, clients, label=None) -> IssuedKey:
        """A new key for existing clients (NotFound names the first that does not exist)."""
        scope, label = check_clients(clients), check_label(label)
        key = new_key()
        row = ApiKeyRow(new_key_id(), key_hash(key), label, scope, self._clock())
        missing = self._store.add_api_key(row)
        if missing:
            raise NotFound(f"No client with id '{missing[0]}'.")
        log.info("API key %s made for %d client(s)", row.key_id, len(scope))
        return IssuedKey(_info(row), key)

    def list(self) -> list[KeyInfo]:
        """Every key, oldest first."""
        return [_info(row) for row in self._store.list_api_keys()]

    def revoke(self, key_id: str) -> None:
        """Delete a key: refused from the next request on, on every instance (NotFound if unknown)."""
        if not is_key_id(key_id) or not self._store.delete_api_key(key_id):
            raise NotFound(f"No API key with id '{key_id[:40]}'.")
        log.info("API key %s revoked", key_id)

    def principal_for(self, presented: str) -> Principal | None:
        """Whom a presented scoped key acts for, or None (unknown, revoked); StoreUnavailable when the
        store cannot tell."""
        if not looks_like_key(presented):
            return None
        return self.principal_for_hash(key_hash(presented))

    def principal_for_hash(self, wanted: str) -> Principal | None:
        """Whom the key with this SHA-256 (key_hash) acts for, or None; a dashboard session keeps the
        hash, not the key, and asks again on every request, so a revoked key ends its sessions too."""
        row = self._store.api_key_by_hash(wanted)
        # the index found the row by equality; comparing again in constant time costs nothing and
        # keeps the check itself from depending on how the database compares strings
        if row is None or not hmac.compare_digest(row.key_hash, wanted):
            return None
        self._note_use(row)
        return Principal(row.key_id, frozenset(row.clients))

    def _note_use(self, row: ApiKeyRow) -> None:
        now = self._clock()
        if row.last_used_at is not None and now - row.last_used_at < TOUCH_EVERY:
            return
        try:
            # conditional: of several instances (or threads) seeing the same stale time, one writes
            self._store.touch_api_key(row.key_id, now, now - TOUCH_EVERY)
        except StoreError as exc:  # the request is allowed; only the note of its use is lost
            log.warning("API key %s: lastUsedAt not written: %s", row.key_id, exc)
