"""The outbound queue's statements, written once for both stores in their placeholder style
('?' for sqlite3, '%s' for PyMySQL). The stores differ only in how they run them (a connection or a
cursor, how a race for an idempotency key shows) and how times are stored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .send_rows import (OUTBOUND_ARITY, OUTBOUND_COLUMNS, FAILED, OPEN, QUEUED, RANK, SENDING, OutboundRow, StateChange, lower_states,
                        outbound_from_row, short_reason)


IDS_PER_STATEMENT = 500  # client ids in one IN list (old SQLite builds take at most 999 parameters)


def id_chunks(client_ids: Sequence[str]) -> list[Sequence[str]]:
    return [client_ids[i:i + IDS_PER_STATEMENT] for i in range(0, len(client_ids), IDS_PER_STATEMENT)]


def _quoted(states) -> str:
    return ", ".join(f"'{s}'" for s in states)


def by_state(changes: Sequence[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """(message_id, state) pairs as (state, ids), in the order of the statuses (a later one wins anyway)."""
    grouped: dict[str, list[str]] = {}
    for message_id, state in changes:
        grouped.setdefault(state, []).append(message_id)
    return sorted(grouped.items(), key=lambda item: RANK[item[0]])


class OutboundSQL:
    """Statements and their arguments; `write_time` turns a naive UTC datetime into a parameter."""

    def __init__(self, p: str, write_time: Callable[[datetime | None], Any], read_time: Callable[[Any], Any]):
        self.write_time, self.read_time = write_time, read_time
        self.select = f"SELECT {OUTBOUND_COLUMNS}, seq FROM outbound "
        self.insert = f"INSERT INTO outbound ({OUTBOUND_COLUMNS}) VALUES ({', '.join([p] * OUTBOUND_ARITY)})"
        # the insert only while the client's open rows are fewer than the bound (the last parameter)
        self.insert_below = (f"INSERT INTO outbound ({OUTBOUND_COLUMNS}) SELECT {', '.join([p] * OUTBOUND_ARITY)} WHERE "
                             f"(SELECT COUNT(*) FROM outbound WHERE client_id = {p} AND state IN ({_quoted(OPEN)})) "
                             f"< {p}")
        self.free_key = f"UPDATE outbound SET idem_key = NULL WHERE idem_key = {p} AND created_at < {p}"
        self.by_key = self.select + f"WHERE idem_key = {p}"
        self.by_id = self.select + f"WHERE message_id = {p}"
        self.count_open = f"SELECT COUNT(*) FROM outbound WHERE client_id = {p} AND state IN ({_quoted(OPEN)})"
        self.open_rows = self.select + f"WHERE client_id = {p} AND state IN ({_quoted(OPEN)}) ORDER BY seq"
        self.claim = (f"UPDATE outbound SET state = '{SENDING}', attempts = attempts + 1, claimed_by = {p}, "
                      f"updated_at = {p} WHERE message_id = {p} AND state = '{QUEUED}'")
        self._move = ("UPDATE outbound SET state = {p}, reason = COALESCE({p}, reason), chat = COALESCE({p}, chat), "
                      "wa_message_id = COALESCE({p}, wa_message_id), sent_at = COALESCE({p}, sent_at), "
                      "updated_at = {p} WHERE message_id = {p} AND state IN ({lower})").replace("{p}", p)
        self.fail_seqs = f"UPDATE outbound SET state = '{FAILED}', reason = {p}, updated_at = {p} WHERE seq IN "
        self.p = p

    def row(self, values) -> OutboundRow:
        return outbound_from_row(values, self.read_time)

    def move(self, message_id: str, change: StateChange, now: datetime) -> tuple[str, tuple]:
        """A row moved forward to change.state (never back), with what is known."""
        t = self.write_time
        return (self._move.replace("{lower}", _quoted(lower_states(change.state))),
                (change.state, short_reason(change.reason), change.chat, change.wa_message_id, t(change.sent_at),
                 t(now), message_id))

    def advance(self, state: str, message_ids: list[str], now: datetime) -> tuple[str, tuple]:
        """Rows moved forward to `state` (acks): one statement for many."""
        return (f"UPDATE outbound SET state = {self.p}, updated_at = {self.p} WHERE message_id IN "
                f"({', '.join([self.p] * len(message_ids))}) AND state IN ({_quoted(lower_states(state))})",
                (state, self.write_time(now), *message_ids))

    def claim_args(self, message_id: str, owner: str, now: datetime) -> tuple:
        return owner, self.write_time(now), message_id

    def open_of(self, client_id: str, state: str, created_before: datetime | None, owner: str | None
                ) -> tuple[str, tuple]:
        """The client's rows in `state` (created before, claimed by `owner` or by nobody known)."""
        p, where, args = self.p, f"WHERE client_id = {self.p} AND state = {self.p}", (client_id, state)
        if created_before is not None:
            where, args = where + f" AND created_at < {p}", args + (self.write_time(created_before),)
        if owner is not None:
            where, args = where + f" AND (claimed_by = {p} OR claimed_by IS NULL)", args + (owner,)
        return self.select + where + " ORDER BY seq", args

    def owned_of_many(self, client_ids: Sequence[str], state: str, owner: str | None) -> tuple[str, tuple]:
        """open_of(client, state, owner=owner) of many clients at once (owner None: whoever took them)."""
        p, ids = self.p, ", ".join([self.p] * len(client_ids))
        if owner is None:
            return self.select + f"WHERE client_id IN ({ids}) AND state = {p} ORDER BY seq", (*client_ids, state)
        return (self.select + f"WHERE client_id IN ({ids}) AND state = {p} "
                f"AND (claimed_by = {p} OR claimed_by IS NULL) ORDER BY seq", (*client_ids, state, owner))

    def open_of_many(self, client_ids: Sequence[str]) -> tuple[str, tuple]:
        """The open rows of many clients, in order of acceptance."""
        ids = ", ".join([self.p] * len(client_ids))
        return (self.select + f"WHERE client_id IN ({ids}) AND state IN ({_quoted(OPEN)}) ORDER BY seq",
                tuple(client_ids))

    def older(self, state: str, updated_before: datetime, limit: int) -> tuple[str, tuple]:
        """Rows of any client in `state` not updated since (a queued row's updated_at is its created_at)."""
        return (self.select + f"WHERE state = {self.p} AND updated_at < {self.p} ORDER BY updated_at LIMIT {self.p}",
                (state, self.write_time(updated_before), limit))

    def fail(self, rows: list[OutboundRow], reason: str, now: datetime) -> tuple[str, tuple]:
        """The rows become failed with `reason` (the caller selected them in this transaction)."""
        return (self.fail_seqs + f"({', '.join([self.p] * len(rows))})",
                (short_reason(reason), self.write_time(now), *(r.seq for r in rows)))

    def media_in_open(self, media_ids: Sequence[str]) -> tuple[str, tuple]:
        """Which of the media ids an open row sends (ix_outbound_media)."""
        return (f"SELECT DISTINCT media_id FROM outbound WHERE media_id IN ({', '.join([self.p] * len(media_ids))}) "
                f"AND state IN ({_quoted(OPEN)})", tuple(media_ids))

    def prune(self, finished_before: datetime, limit: int) -> tuple[str, tuple]:
        """Finished rows last updated before the time, oldest first, at most `limit` of them."""
        return (f"SELECT seq FROM outbound WHERE updated_at < {self.p} AND state NOT IN ({_quoted(OPEN)}) "
                f"ORDER BY updated_at LIMIT {self.p}", (self.write_time(finished_before), limit))
