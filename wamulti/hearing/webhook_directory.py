"""Which webhook applies to a client: its own (stored) or the global one from the settings.

Per-client webhooks are cached for a few seconds: the publish path asks for every event, and a
change made through another instance reaches this one within CACHE_SECONDS. A change made
through this instance applies at once. At start-up every stored webhook is read in one query
(preload), which answers for every client, with or without one, for CACHE_SECONDS: a thousand
clients coming back do not each look theirs up on their first event.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from ..errors import NotFound
from ..store.event_rows import WebhookRow
from ..store.store_api import StoreError
from .event_fields import ALL_TYPES
from .event_model import OPT_IN_TYPES, EventType

log = logging.getLogger(__name__)

CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class WebhookConfig:
    """Where and how a client's events are posted. `events` None: every type."""

    url: str = field(repr=False)  # may carry a password
    secret: str = field(repr=False)
    events: frozenset[EventType] | None = None  # None ('*'): every type but the opt-in ones
    client_id: str | None = None  # None: the global webhook from the settings
    updated_at: datetime | None = None

    def applies_to(self, type: str) -> bool:
        """True if events of `type` go to this webhook ('*' takes every type but OPT_IN_TYPES)."""
        if self.events is None:
            return type not in OPT_IN_TYPES
        return type in self.events

    @property
    def event_list(self) -> list[str]:
        """The subscribed types for showing: ['*'] for all."""
        return [ALL_TYPES] if self.events is None else sorted(t.value for t in self.events)

    def to_row(self) -> WebhookRow:
        return WebhookRow(self.client_id or "", self.url, ",".join(self.event_list), self.secret, self.updated_at)

    @classmethod
    def from_row(cls, row: WebhookRow) -> "WebhookConfig":
        names = [n for n in row.event_types.split(",") if n]
        known = {t.value for t in EventType}  # a type some other version stored is skipped
        events = None if ALL_TYPES in names else frozenset(EventType(n) for n in names if n in known)
        return cls(row.url, row.secret, events, row.client_id, row.updated_at)


class WebhookDirectory:
    """The global webhook and a short-lived cache of per-client ones; thread-safe."""

    def __init__(self, store, global_hook: WebhookConfig | None = None, cache_seconds: float = CACHE_SECONDS,
                 clock=time.monotonic):
        self._store = store
        self.global_hook = global_hook
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, WebhookConfig | None]] = {}
        # every stored webhook, read at once (preload): (until when it answers, client -> hook)
        self._listing: tuple[float, dict[str, WebhookConfig]] = (0.0, {})

    def preload(self) -> None:
        """Read every client's own webhook in one query; until the cache time runs out, a client
        missing from it has none. A lookup cached here meanwhile (a change) wins over it."""
        until = self._clock() + self._cache_seconds  # from before the read: never newer than it is
        try:
            rows = self._store.all_webhooks()
        except StoreError as exc:
            log.warning("webhooks not read at once (%s); each client looks its own up", exc)
            return
        with self._lock:
            self._listing = (until, {r.client_id: WebhookConfig.from_row(r) for r in rows})

    def own(self, client_id: str) -> WebhookConfig | None:
        """The client's own webhook (cached); raises StoreError when the store cannot say."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(client_id)
            if (hit is None or hit[0] <= now) and self._listing[0] > now:
                hit = (self._listing[0], self._listing[1].get(client_id))
        if hit is not None and hit[0] > now:
            return hit[1]
        row = self._store.get_webhook(client_id)
        hook = WebhookConfig.from_row(row) if row else None
        with self._lock:
            self._cache[client_id] = (now + self._cache_seconds, hook)
        return hook

    def for_client(self, client_id: str) -> WebhookConfig | None:
        """The webhook that applies to the client: its own, else the global one, else None."""
        return self.own(client_id) or self.global_hook

    def applies(self, client_id: str, type: str) -> bool:
        """True if an event of `type` from the client has a webhook to go to."""
        hook = self.for_client(client_id)
        return hook is not None and hook.applies_to(type)

    def save(self, hook: WebhookConfig) -> WebhookConfig:
        """Store a client's own webhook (it replaces the global one for that client)."""
        stored = WebhookConfig.from_row(self._store.save_webhook(hook.to_row()))
        self._remember(stored.client_id, stored)
        return stored

    def get(self, client_id: str) -> WebhookConfig:
        """The client's own webhook, read from the store; NotFound if it has none."""
        row = self._store.get_webhook(client_id)
        self._remember(client_id, WebhookConfig.from_row(row) if row else None)
        if row is None:
            raise NotFound(f"Client '{client_id}' has no webhook of its own.")
        return WebhookConfig.from_row(row)

    def delete(self, client_id: str) -> None:
        """Remove a client's own webhook; NotFound if it had none."""
        existed = self._store.delete_webhook(client_id)
        self._remember(client_id, None)
        if not existed:
            raise NotFound(f"Client '{client_id}' has no webhook of its own.")

    def forget(self, client_id: str) -> None:
        """Drop what is cached for a client (it was deleted)."""
        with self._lock:
            self._cache.pop(client_id, None)
            self._listing[1].pop(client_id, None)

    def created(self, client_id: str) -> None:
        """A client created this moment has no webhook of its own: its first events (a create's
        state changes) need not read the store to learn that. A PUT after this replaces it at once
        here, and reaches other instances within the cache time, as any change does."""
        self._remember(client_id, None)

    def _remember(self, client_id: str, hook: WebhookConfig | None) -> None:
        with self._lock:
            self._cache[client_id] = (self._clock() + self._cache_seconds, hook)
