"""The outbox on the embedded SQLite store: events, delivery lanes and webhooks (mixed into SQLiteStore).

Every write runs under BEGIN IMMEDIATE, so claims on one file are serialised; times are the
application's clock, stored as text that sorts like the time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..errors import NotFound
from .base import StoreError
from .outbox import (EVENT_COLUMNS, PENDING, PRUNE_BATCH, WEBHOOK_COLUMNS, EventRow, OutboxStore, WebhookRow,
                     due_prefix, event_filter, event_from_row, event_values, short_error, webhook_from_row,
                     webhook_values)
from .rows import utcnow

OUTBOX_TABLES = """
    CREATE TABLE events (
        event_id    TEXT PRIMARY KEY,
        client_id   TEXT NOT NULL,
        type        TEXT NOT NULL,
        body        TEXT NOT NULL,
        delivery    TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL,
        queued_at   TEXT,
        next_at     TEXT,
        last_status INTEGER,
        last_error  TEXT,
        finished_at TEXT
    );
    CREATE INDEX ix_events_client ON events (client_id, event_id);
    CREATE INDEX ix_events_type ON events (type, event_id);
    CREATE INDEX ix_events_delivery ON events (delivery, client_id, event_id);
    CREATE TABLE delivery_lanes (
        client_id     TEXT PRIMARY KEY,
        claim_token   TEXT,
        claimed_until TEXT
    );
    CREATE TABLE webhooks (
        client_id   TEXT PRIMARY KEY REFERENCES clients(client_id) ON DELETE CASCADE,
        url         TEXT NOT NULL,
        event_types TEXT NOT NULL,
        secret      TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
"""

_INSERT_EVENT = (f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({', '.join(['?'] * 12)}) "
                 "ON CONFLICT(event_id) DO NOTHING")
_REQUEUE = ("UPDATE events SET delivery = 'pending', attempts = 0, queued_at = ?, next_at = ?, "
            "finished_at = NULL WHERE ")


def text_time(dt: datetime | None) -> str | None:
    """A naive UTC datetime as sortable text (None stays None)."""
    # the text of strftime("%Y-%m-%d %H:%M:%S.%f") for years >= 1000, at a quarter of its cost
    return None if dt is None else dt.isoformat(" ", "microseconds")


def read_time(value: str | None) -> datetime | None:
    """The datetime of text_time's text."""
    return datetime.fromisoformat(value) if value else None  # parses text_time's text, ~40x faster than strptime


def _lease_until(seconds: float) -> str:
    return text_time(utcnow() + timedelta(seconds=seconds))


class SQLiteOutbox(OutboxStore):
    """The OutboxStore methods over SQLiteStore's `_tx(immediate)` (a connection in one transaction)."""

    def add_events(self, rows: Sequence[EventRow]) -> None:
        if not rows:
            return
        values = [event_values(r, text_time) for r in rows]
        # one row (an event published on its own thread) is one statement: no savepoint needed
        with self._tx(immediate=True, savepoint=len(values) > 1) as con:
            con.executemany(_INSERT_EVENT, values)

    def get_event(self, event_id: str) -> EventRow | None:
        with self._tx() as con:
            row = con.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?", (event_id,)).fetchone()
        return event_from_row(row, read_time) if row else None

    def list_events(self, *, client_id=None, client_ids=None, type=None, after=None, limit=100) -> list[EventRow]:
        where, params = event_filter("?", client_id=client_id, client_ids=client_ids, type=type, after=after)
        with self._tx() as con:
            rows = con.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} "
                               "ORDER BY event_id LIMIT ?", (*params, int(limit))).fetchall()
        return [event_from_row(r, read_time) for r in rows]

    def pending_heads(self):
        with self._tx() as con:
            rows = con.execute(
                "SELECT e.client_id, e.next_at FROM (SELECT client_id, MIN(event_id) AS head FROM events "
                "WHERE delivery = 'pending' GROUP BY client_id) h JOIN events e ON e.event_id = h.head "
                "LEFT JOIN delivery_lanes l ON l.client_id = h.client_id "
                "WHERE l.claim_token IS NULL OR l.claimed_until < ?", (text_time(utcnow()),)).fetchall()
        return [(client_id, read_time(next_at) or utcnow()) for client_id, next_at in rows]

    def claim_events(self, client_id, token, lease_seconds, limit=1) -> list[EventRow]:
        with self._tx(immediate=True) as con:
            if not self._take_lane(con, client_id, token, lease_seconds):
                return []
            return self._due_or_release(con, client_id, token, limit)

    @staticmethod
    def _due_or_release(con, client_id: str, token: str, limit: int) -> list[EventRow]:
        rows = con.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE client_id = ? AND delivery = 'pending' "
                           "ORDER BY event_id LIMIT ?", (client_id, int(limit))).fetchall()
        due = due_prefix([event_from_row(r, read_time) for r in rows], utcnow())
        if not due:
            con.execute("UPDATE delivery_lanes SET claim_token = NULL, claimed_until = NULL "
                        "WHERE client_id = ? AND claim_token = ?", (client_id, token))
        return due

    @staticmethod
    def _take_lane(con, client_id: str, token: str, lease_seconds: float) -> bool:
        until, now = _lease_until(lease_seconds), text_time(utcnow())
        taken = con.execute(
            "UPDATE delivery_lanes SET claim_token = ?, claimed_until = ? WHERE client_id = ? "
            "AND (claim_token IS NULL OR claim_token = ? OR claimed_until < ?)",
            (token, until, client_id, token, now)).rowcount
        if not taken:  # no lane row yet (first delivery for this client), or another holder's lease runs
            taken = con.execute("INSERT OR IGNORE INTO delivery_lanes (client_id, claim_token, claimed_until) "
                                "VALUES (?, ?, ?)", (client_id, token, until)).rowcount
        return taken > 0

    def record_attempts(self, client_id, token, results, lease_seconds, then_claim=0) -> list[EventRow] | None:
        with self._tx(immediate=True) as con:
            held = con.execute("UPDATE delivery_lanes SET claimed_until = ? WHERE client_id = ? AND claim_token = ?",
                               (_lease_until(lease_seconds), client_id, token)).rowcount
            if not held:
                return None
            con.executemany(
                "UPDATE events SET delivery = ?, attempts = attempts + ?, next_at = ?, last_status = ?, "
                "last_error = ?, finished_at = ? WHERE event_id = ? AND delivery = 'pending'",
                [(r.delivery, int(r.attempted), text_time(r.next_at), r.last_status, short_error(r.last_error),
                  text_time(r.finished_at), r.event_id) for r in results])
            return self._due_or_release(con, client_id, token, then_claim) if then_claim > 0 else []

    def release_lane(self, client_id, token) -> None:
        with self._tx(immediate=True) as con:
            con.execute("UPDATE delivery_lanes SET claim_token = NULL, claimed_until = NULL "
                        "WHERE client_id = ? AND claim_token = ?", (client_id, token))

    def requeue_event(self, event_id) -> bool:
        now = text_time(utcnow())
        with self._tx(immediate=True) as con:
            return con.execute(_REQUEUE + "event_id = ?", (now, now, event_id)).rowcount > 0

    def requeue_client_events(self, client_id, after, types) -> int:
        now = text_time(utcnow())
        sql, params = _REQUEUE + "client_id = ? AND event_id > ?", [now, now, client_id, after or ""]
        if types is not None:
            if not types:
                return 0
            sql += f" AND type IN ({', '.join(['?'] * len(types))})"
            params.extend(types)
        with self._tx(immediate=True) as con:
            return con.execute(sql, params).rowcount

    def prune_events(self, before_id) -> int:
        total = 0
        while True:
            with self._tx(immediate=True) as con:
                n = con.execute("DELETE FROM events WHERE event_id IN (SELECT event_id FROM events WHERE "
                                "event_id < ? AND delivery <> ? ORDER BY event_id LIMIT ?)",
                                (before_id, PENDING, PRUNE_BATCH)).rowcount
            total += n
            if n < PRUNE_BATCH:
                return total

    def save_webhook(self, row: WebhookRow) -> WebhookRow:
        stored = WebhookRow(row.client_id, row.url, row.event_types, row.secret, utcnow())
        try:
            with self._tx(immediate=True) as con:
                con.execute(f"INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                            "ON CONFLICT(client_id) DO UPDATE SET url = excluded.url, event_types = "
                            "excluded.event_types, secret = excluded.secret, updated_at = excluded.updated_at",
                            webhook_values(stored, text_time))
        except sqlite3.IntegrityError:
            raise NotFound(f"No client with id '{row.client_id}'.") from None
        return stored

    def get_webhook(self, client_id) -> WebhookRow | None:
        with self._tx() as con:
            row = con.execute(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE client_id = ?", (client_id,)).fetchone()
        return webhook_from_row(row, read_time) if row else None

    def all_webhooks(self) -> list[WebhookRow]:
        with self._tx() as con:
            rows = con.execute(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY client_id").fetchall()
        return [webhook_from_row(r, read_time) for r in rows]

    def delete_webhook(self, client_id) -> bool:
        with self._tx(immediate=True) as con:
            return con.execute("DELETE FROM webhooks WHERE client_id = ?", (client_id,)).rowcount > 0
