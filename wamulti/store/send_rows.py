"""The outbound queue in the store: every accepted send is a row before anything goes out.

A row is born `queued` with wamulti's message id, becomes `sending` when a send thread takes it
(a conditional update: only one taker ever wins), then `sent` (WhatsApp accepted it) or `failed`
with a reason, and later `server`, `delivered`, `read` from the message's acks. Statuses only move
forward (RANK), so a late or repeated ack never takes a row back.

An idempotency key is unique across the table; a row keeps it IDEMPOTENCY_HOURS, after which the
key may be used again (the old row gives it up in the same transaction as the new row takes it).
A finished row is kept as long (then pruned, its key with it).

A row taken for sending records who took it (`claimed_by`, the process's instance id): a process
that starts fails as `outcome_unknown` only the `sending` rows its own earlier life left, never
those another live instance on the same database is sending.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

QUEUED, SENDING, SENT, SERVER, DELIVERED, READ, FAILED = (
    "queued", "sending", "sent", "server", "delivered", "read", "failed")
RANK = {QUEUED: 0, SENDING: 1, SENT: 2, SERVER: 3, DELIVERED: 4, READ: 5, FAILED: 6}
OPEN = (QUEUED, SENDING)  # rows that count against a client's queue bound
GONE_OUT = (SENT, SERVER, DELIVERED, READ)  # WhatsApp has the message
IDEMPOTENCY_HOURS = 24
REASON_MAX = 255
PRUNE_BATCH = 1000  # rows deleted per prune_sends call: bounded, so a call is always short

OUTBOUND_COLUMNS = ("message_id, client_id, recipient, chat, body, state, reason, attempts, wa_message_id, "
                    "idem_key, idem_hash, created_at, updated_at, sent_at, payload, media_id")
OUTBOUND_ARITY = 16  # the number of OUTBOUND_COLUMNS
"""The outbound table's columns (less its sequence number), in the order of `outbound_values`."""


@dataclass(frozen=True)
class OutboundRow:
    """One send. `recipient` is `to` as accepted (a JID or '+<digits>': sends to it keep their order);
    `chat` is the JID it went to once resolved. Times are naive UTC."""

    message_id: str
    client_id: str
    recipient: str
    body: str
    state: str = QUEUED
    chat: str | None = None
    reason: str | None = None
    attempts: int = 0
    wa_message_id: str | None = None
    idem_key: str | None = None
    idem_hash: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    sent_at: datetime | None = None
    seq: int = 0  # the table's order of acceptance
    # what else the send carries (media, location, contact, a reply) as JSON (sending/payloads.py);
    # None for a plain text, whose `body` is all there is (rows from before migration 8 are such)
    payload: str | None = None
    media_id: str | None = None  # the stored media it sends: the media store keeps it while the row is open

    @property
    def is_open(self) -> bool:
        return self.state in OPEN


@dataclass(frozen=True)
class StateChange:
    """A row's move forward to `state`, with what became known."""

    state: str
    reason: str | None = None
    chat: str | None = None
    wa_message_id: str | None = None
    sent_at: datetime | None = None


def outbound_values(row: OutboundRow, write_time: Callable[[datetime | None], Any]) -> tuple:
    return (row.message_id, row.client_id, row.recipient, row.chat, row.body, row.state, row.reason, row.attempts,
            row.wa_message_id, row.idem_key, row.idem_hash, write_time(row.created_at),
            write_time(row.updated_at), write_time(row.sent_at), row.payload, row.media_id)


def outbound_from_row(values: Sequence[Any], read_time: Callable[[Any], datetime | None]) -> OutboundRow:
    """A row selected as OUTBOUND_COLUMNS followed by seq."""
    (message_id, client_id, recipient, chat, body, state, reason, attempts, wa_id, idem_key, idem_hash,
     created_at, updated_at, sent_at, payload, media_id, seq) = values
    return OutboundRow(message_id, client_id, recipient, body, state, chat, reason, attempts, wa_id, idem_key,
                       idem_hash, read_time(created_at), read_time(updated_at), read_time(sent_at), seq,
                       payload, media_id)


def lower_states(state: str) -> tuple[str, ...]:
    """The states a row may move to `state` from (statuses only go forward; failed only from open)."""
    if state == FAILED:
        return OPEN
    return tuple(s for s, rank in RANK.items() if rank < RANK[state])


def short_reason(reason: str | None) -> str | None:
    return None if reason is None else reason[:REASON_MAX]


class OutboundStore(ABC):
    """The outbound queue's operations; each is one transaction (see SessionStore)."""

    @abstractmethod
    def enqueue_send(self, row: OutboundRow, max_open: int, idem_since: datetime) -> tuple[OutboundRow, bool]:
        """Insert a queued row, or, when its idempotency key is held by a row created after idem_since,
        return that row instead: (row, created). Raises QueueFull when the client has max_open open rows."""

    @abstractmethod
    def open_sends(self, client_id: str) -> list[OutboundRow]:
        """The client's queued and sending rows in order of acceptance."""

    @abstractmethod
    def claim_send(self, message_id: str, owner: str = "") -> bool:
        """queued -> sending (attempts + 1, claimed by `owner`); False if the row is not queued (taken,
        failed, deleted)."""

    @abstractmethod
    def finish_send(self, message_id: str, change: StateChange, claim: str | None = None, owner: str = "") -> bool:
        """Move a row forward (set_send_state) and, in the same transaction, claim row `claim` (the
        chat's next); True if `claim` was claimed."""

    @abstractmethod
    def set_send_state(self, message_id: str, state: str, *, reason: str | None = None, chat: str | None = None,
                       wa_message_id: str | None = None, sent_at: datetime | None = None) -> bool:
        """Move a row forward to `state` (never back), with what is known; False if it did not move."""

    @abstractmethod
    def advance_sends(self, changes: Sequence[tuple[str, str]]) -> int:
        """Move each (message_id, state) forward in one transaction (a row already past the state stays);
        how many rows moved."""

    @abstractmethod
    def fail_open_sends(self, client_id: str, state: str, reason: str, created_before: datetime | None = None,
                        owner: str | None = None) -> list[OutboundRow]:
        """Every row of the client in `state` (created before `created_before`, claimed by `owner` or by
        nobody recorded, if given) becomes failed with `reason`; returns them as they were."""

    @abstractmethod
    def load_open_sends(self, client_ids: Sequence[str], state: str, reason: str, owner: str | None
                        ) -> tuple[list[OutboundRow], list[OutboundRow]]:
        """Start-up, for many clients in one transaction: fail_open_sends(client, state, reason,
        owner=owner) of each, then open_sends of each; (the rows failed, as they were; the open rows),
        each client's in order of acceptance."""

    @abstractmethod
    def fail_old_sends(self, state: str, updated_before: datetime, reason: str, limit: int = PRUNE_BATCH
                       ) -> list[OutboundRow]:
        """Up to `limit` rows of any client in `state`, not updated since `updated_before` (for a queued
        row: accepted before), become failed with `reason`; returns them as they were, oldest first."""

    @abstractmethod
    def get_send(self, message_id: str) -> OutboundRow | None:
        """The row, or None."""

    @abstractmethod
    def media_ids_in_open_sends(self, ids: list[str]) -> set[str]:
        """Those of the media ids that a queued or sending row still sends (the media store keeps them)."""

    @abstractmethod
    def prune_sends(self, finished_before: datetime, limit: int = PRUNE_BATCH) -> int:
        """Delete up to `limit` finished rows last updated before the time, oldest first; how many."""
