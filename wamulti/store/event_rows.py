"""The event outbox in the store: event rows, webhook rows, delivery lanes, and their interface.

A *lane* is a client's right to deliver: whoever holds a client's lane (a claim token with a lease
that runs out, so a killed instance's claim expires) is the only one posting that client's events,
oldest pending first. That gives per-client order and at most one delivery in flight per client
across every instance sharing the database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PENDING, DELIVERED, FAILED, NONE = "pending", "delivered", "failed", "none"
"""Delivery states as stored (the same words as wamulti.hearing.event_model.DeliveryState)."""

EVENT_COLUMNS = ("event_id, client_id, type, body, delivery, attempts, created_at, queued_at, next_at, "
                 "last_status, last_error, finished_at")
"""The events table's columns, in the order of `event_values` and `event_from_row`."""

WEBHOOK_COLUMNS = "client_id, url, event_types, secret, updated_at"
"""The webhooks table's columns, in the order of `webhook_values` and `webhook_from_row`."""

LAST_ERROR_MAX = 255
PRUNE_BATCH = 1000


@dataclass(frozen=True)
class EventRow:
    """One stored event: its JSON body exactly as it is posted, and how its delivery stands.

    `queued_at` starts the current delivery round (the give-up time counts from it); `next_at` is
    when the next attempt is due; `finished_at` is when it was delivered or given up. Naive UTC.
    """

    event_id: str
    client_id: str
    type: str
    body: str
    delivery: str
    attempts: int = 0
    created_at: datetime | None = None
    queued_at: datetime | None = None
    next_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    finished_at: datetime | None = None
    media_id: str | None = None  # the media the event carries (written, not read back: its body has it)


@dataclass(frozen=True)
class AttemptResult:
    """What one delivery attempt (or the finding that no webhook applies) leaves on an event."""

    event_id: str
    delivery: str  # PENDING again (retry at next_at), DELIVERED, FAILED or NONE
    attempted: bool = True  # False: nothing was posted, so attempts does not count up
    next_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class WebhookRow:
    """A client's own webhook. `event_types` is '*' or a comma list of types."""

    client_id: str
    url: str
    event_types: str
    secret: str
    updated_at: datetime | None = None


def _as_is(value: Any) -> Any:
    return value


def event_values(row: EventRow, write_time: Callable[[datetime | None], Any] = _as_is) -> tuple:
    """The row's values in EVENT_COLUMNS order, times converted with `write_time`."""
    return (row.event_id, row.client_id, row.type, row.body, row.delivery, row.attempts,
            write_time(row.created_at), write_time(row.queued_at), write_time(row.next_at),
            row.last_status, row.last_error, write_time(row.finished_at))


def event_from_row(values: Sequence[Any], read_time: Callable[[Any], datetime | None] = _as_is) -> EventRow:
    """The EventRow of a row selected in EVENT_COLUMNS order."""
    (event_id, client_id, type_, body, delivery, attempts, created_at, queued_at, next_at,
     last_status, last_error, finished_at) = values
    return EventRow(event_id, client_id, type_, body, delivery, attempts, read_time(created_at),
                    read_time(queued_at), read_time(next_at), last_status, last_error, read_time(finished_at))


def webhook_values(row: WebhookRow, write_time: Callable[[datetime | None], Any] = _as_is) -> tuple:
    """The row's values in WEBHOOK_COLUMNS order."""
    return row.client_id, row.url, row.event_types, row.secret, write_time(row.updated_at)


def webhook_from_row(values: Sequence[Any], read_time: Callable[[Any], datetime | None] = _as_is) -> WebhookRow:
    """The WebhookRow of a row selected in WEBHOOK_COLUMNS order."""
    client_id, url, event_types, secret, updated_at = values
    return WebhookRow(client_id, url, event_types, secret, read_time(updated_at))


def due_prefix(rows: Sequence[EventRow], now: datetime) -> list[EventRow]:
    """The leading rows that are due at `now` (a row not due yet holds back the ones after it)."""
    due = []
    for row in rows:
        if row.next_at is not None and row.next_at > now:
            break
        due.append(row)
    return due


def short_error(text: str | None) -> str | None:
    """An attempt's error cut to what the column holds."""
    return None if text is None else text[:LAST_ERROR_MAX]


class OutboxStore(ABC):
    """The store's part for events and webhooks; one transaction per call, like the rest."""

    @abstractmethod
    def add_events(self, rows: Sequence[EventRow]) -> None:
        """Insert new events in one transaction (all or none); ids stored already are kept as they are."""

    @abstractmethod
    def get_event(self, event_id: str) -> EventRow | None:
        """One event, or None."""

    @abstractmethod
    def list_events(self, *, client_id: str | None = None, client_ids: Sequence[str] | None = None,
                    type: str | None = None, after: str | None = None, limit: int = 100) -> list[EventRow]:
        """Events with ids after `after` (all when None), filtered, oldest first, at most `limit`;
        `client_ids` (not empty) keeps those of these clients only (a scoped key's)."""

    @abstractmethod
    def pending_heads(self) -> list[tuple[str, datetime]]:
        """(client_id, next_at) of each client's oldest pending event, for clients whose lane is free."""

    @abstractmethod
    def claim_events(self, client_id: str, token: str, lease_seconds: float, limit: int = 1) -> list[EventRow]:
        """Hold the client's lane with `token` (free, expired, or held by `token` already: the lease is
        renewed) and return up to `limit` of its oldest pending events, oldest first, as long as they
        are due. When the oldest is not due (or there is none), release the lane and return []."""

    @abstractmethod
    def record_attempts(self, client_id: str, token: str, results: Sequence[AttemptResult], lease_seconds: float,
                        then_claim: int = 0) -> list[EventRow] | None:
        """Write attempts' outcomes if `token` still holds the lane (renewing it); None if it lost the lane.
        With then_claim > 0 it goes on like claim_events(limit=then_claim); else returns [] and keeps the lane."""

    @abstractmethod
    def release_lane(self, client_id: str, token: str) -> None:
        """Give the client's lane up if `token` holds it."""

    @abstractmethod
    def requeue_event(self, event_id: str) -> bool:
        """Make one event pending again, due now, as a new round (attempts 0); False if no such event."""

    @abstractmethod
    def requeue_client_events(self, client_id: str, after: str | None, types: Sequence[str] | None) -> int:
        """requeue_event for each of the client's events after `after` (of `types` only, unless None)."""

    @abstractmethod
    def prune_events(self, before_id: str) -> int:
        """Delete events with ids below `before_id` that are not pending; return how many."""

    @abstractmethod
    def save_webhook(self, row: WebhookRow) -> WebhookRow:
        """Insert or replace a client's webhook (NotFound if there is no such client, e.g. deleted by another
        instance meanwhile)."""

    @abstractmethod
    def get_webhook(self, client_id: str) -> WebhookRow | None:
        """The client's own webhook, or None."""

    @abstractmethod
    def all_webhooks(self) -> list[WebhookRow]:
        """Every client's own webhook, in one read (start-up's lookups of a thousand clients at once)."""

    @abstractmethod
    def delete_webhook(self, client_id: str) -> bool:
        """Remove the client's own webhook; True if it had one."""


def event_filter(placeholder: str, *, client_id=None, client_ids=None, type=None, after=None) -> tuple[str, list]:
    """The WHERE clause (and its parameters) of list_events, in the driver's placeholder style."""
    where, params = ["1 = 1"], []
    if client_ids is not None:
        where.append(f"client_id IN ({', '.join([placeholder] * len(client_ids))})")
        params.extend(client_ids)
    for column, value in (("client_id =", client_id), ("type =", type), ("event_id >", after)):
        if value is not None:
            where.append(f"{column} {placeholder}")
            params.append(value)
    return " AND ".join(where), params
