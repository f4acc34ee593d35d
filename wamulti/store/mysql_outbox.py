"""The outbox on MySQL/MariaDB: events, delivery lanes and webhooks (mixed into MySQLStore).

Lease times come from the database clock (UTC_TIMESTAMP), so instances on different hosts agree
on when a claim ran out; due times (`next_at`) are written by the application.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import NotFound
from .base import StoreError
from .mysql_codes import ServerCode
from .outbox import (EVENT_COLUMNS, PENDING, PRUNE_BATCH, WEBHOOK_COLUMNS, EventRow, OutboxStore, WebhookRow,
                     due_prefix, event_filter, event_from_row, event_values, short_error, webhook_from_row,
                     webhook_values)
from .rows import utcnow

_BIN = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
_ASCII = "CHARACTER SET ascii COLLATE ascii_bin"
_TABLE = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"

OUTBOX_TABLES = [
    f"""CREATE TABLE IF NOT EXISTS events (
        event_id    CHAR(30) {_ASCII} NOT NULL PRIMARY KEY,
        client_id   VARCHAR(64) {_BIN} NOT NULL,
        type        VARCHAR(32) {_ASCII} NOT NULL,
        body        MEDIUMTEXT NOT NULL,
        delivery    VARCHAR(16) {_ASCII} NOT NULL,
        attempts    INT NOT NULL DEFAULT 0,
        created_at  DATETIME(6) NOT NULL,
        queued_at   DATETIME(6) NULL,
        next_at     DATETIME(6) NULL,
        last_status SMALLINT NULL,
        last_error  VARCHAR(255) NULL,
        finished_at DATETIME(6) NULL,
        KEY ix_events_client (client_id, event_id),
        KEY ix_events_type (type, event_id),
        KEY ix_events_delivery (delivery, client_id, event_id)
    ) {_TABLE}""",
    f"""CREATE TABLE IF NOT EXISTS delivery_lanes (
        client_id     VARCHAR(64) {_BIN} NOT NULL PRIMARY KEY,
        claim_token   VARCHAR(64) {_ASCII} NULL,
        claimed_until DATETIME(6) NULL
    ) {_TABLE}""",
    f"""CREATE TABLE IF NOT EXISTS webhooks (
        client_id   VARCHAR(64) {_BIN} NOT NULL PRIMARY KEY,
        url         VARCHAR(2048) NOT NULL,
        event_types VARCHAR(255) {_ASCII} NOT NULL,
        secret      VARCHAR(128) {_ASCII} NOT NULL,
        updated_at  DATETIME(6) NOT NULL,
        CONSTRAINT fk_webhook_client FOREIGN KEY (client_id) REFERENCES clients (client_id) ON DELETE CASCADE
    ) {_TABLE}""",
]

_LEASE_UNTIL = "UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND"
_REQUEUE = ("UPDATE events SET delivery = 'pending', attempts = 0, queued_at = %s, next_at = %s, "
            "finished_at = NULL WHERE ")


def _micros(seconds: float) -> int:
    return max(1, int(seconds * 1_000_000))


class MySQLOutbox(OutboxStore):
    """The OutboxStore methods over MySQLStore's `_tx()` (a cursor in one transaction)."""

    def add_events(self, rows: Sequence[EventRow]) -> None:
        if not rows:
            return
        with self._tx() as cur:
            # a retry after a lost commit acknowledgement finds its rows there already: keep them
            cur.executemany(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({', '.join(['%s'] * 12)}) "
                            "ON DUPLICATE KEY UPDATE event_id = event_id", [event_values(r) for r in rows])

    def get_event(self, event_id: str) -> EventRow | None:
        with self._tx() as cur:
            cur.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = %s", (event_id,))
            row = cur.fetchone()
        return event_from_row(row) if row else None

    def list_events(self, *, client_id=None, client_ids=None, type=None, after=None, limit=100) -> list[EventRow]:
        where, params = event_filter("%s", client_id=client_id, client_ids=client_ids, type=type, after=after)
        with self._tx() as cur:
            cur.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} "
                        "ORDER BY event_id LIMIT %s", (*params, int(limit)))
            rows = cur.fetchall()
        return [event_from_row(r) for r in rows]

    def pending_heads(self):
        with self._tx() as cur:
            cur.execute(
                "SELECT e.client_id, e.next_at FROM (SELECT client_id, MIN(event_id) AS head FROM events "
                "WHERE delivery = 'pending' GROUP BY client_id) h JOIN events e ON e.event_id = h.head "
                "LEFT JOIN delivery_lanes l ON l.client_id = h.client_id "
                "WHERE l.claim_token IS NULL OR l.claimed_until < UTC_TIMESTAMP(6)")
            return [(client_id, next_at or utcnow()) for client_id, next_at in cur.fetchall()]

    def claim_events(self, client_id, token, lease_seconds, limit=1) -> list[EventRow]:
        for _ in range(2):
            with self._tx() as cur:
                if self._take_lane(cur, client_id, token, lease_seconds):
                    return self._due_or_release(cur, client_id, token, limit)
                cur.execute("SELECT 1 FROM delivery_lanes WHERE client_id = %s", (client_id,))
                if cur.fetchone() is not None:
                    return []  # another holder's lease runs
            # The client's first claim: its lane row is made in a transaction of its own. Inserting it
            # after the failed UPDATE above (which holds a gap lock under REPEATABLE READ) could deadlock
            # with another client's first claim into the same gap.
            with self._tx() as cur:
                cur.execute("INSERT IGNORE INTO delivery_lanes (client_id) VALUES (%s)", (client_id,))
        return []

    @staticmethod
    def _due_or_release(cur, client_id: str, token: str, limit: int) -> list[EventRow]:
        cur.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE client_id = %s AND delivery = 'pending' "
                    "ORDER BY event_id LIMIT %s", (client_id, int(limit)))
        due = due_prefix([event_from_row(r) for r in cur.fetchall()], utcnow())
        if not due:
            cur.execute("UPDATE delivery_lanes SET claim_token = NULL, claimed_until = NULL "
                        "WHERE client_id = %s AND claim_token = %s", (client_id, token))
        return due

    @staticmethod
    def _take_lane(cur, client_id: str, token: str, lease_seconds: float) -> bool:
        return cur.execute(
            f"UPDATE delivery_lanes SET claim_token = %s, claimed_until = {_LEASE_UNTIL} WHERE client_id = %s "
            "AND (claim_token IS NULL OR claim_token = %s OR claimed_until < UTC_TIMESTAMP(6))",
            (token, _micros(lease_seconds), client_id, token)) > 0

    def record_attempts(self, client_id, token, results, lease_seconds, then_claim=0) -> list[EventRow] | None:
        with self._tx() as cur:
            held = cur.execute(f"UPDATE delivery_lanes SET claimed_until = {_LEASE_UNTIL} "
                               "WHERE client_id = %s AND claim_token = %s", (_micros(lease_seconds), client_id, token))
            if not held:
                return None
            if results:
                cur.executemany(
                    "UPDATE events SET delivery = %s, attempts = attempts + %s, next_at = %s, last_status = %s, "
                    "last_error = %s, finished_at = %s WHERE event_id = %s AND delivery = 'pending'",
                    [(r.delivery, int(r.attempted), r.next_at, r.last_status, short_error(r.last_error),
                      r.finished_at, r.event_id) for r in results])
            return self._due_or_release(cur, client_id, token, then_claim) if then_claim > 0 else []

    def release_lane(self, client_id, token) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE delivery_lanes SET claim_token = NULL, claimed_until = NULL "
                        "WHERE client_id = %s AND claim_token = %s", (client_id, token))

    def requeue_event(self, event_id) -> bool:
        now = utcnow()
        with self._tx() as cur:
            return cur.execute(_REQUEUE + "event_id = %s", (now, now, event_id)) > 0

    def requeue_client_events(self, client_id, after, types) -> int:
        now = utcnow()
        sql, params = _REQUEUE + "client_id = %s AND event_id > %s", [now, now, client_id, after or ""]
        if types is not None:
            if not types:
                return 0
            sql += f" AND type IN ({', '.join(['%s'] * len(types))})"
            params.extend(types)
        with self._tx() as cur:
            return cur.execute(sql, params)

    def prune_events(self, before_id) -> int:
        total = 0
        while True:
            with self._tx() as cur:
                n = cur.execute("DELETE FROM events WHERE event_id < %s AND delivery <> %s ORDER BY event_id "
                                "LIMIT %s", (before_id, PENDING, PRUNE_BATCH))
            total += n
            if n < PRUNE_BATCH:
                return total

    def save_webhook(self, row: WebhookRow) -> WebhookRow:
        stored = WebhookRow(row.client_id, row.url, row.event_types, row.secret, utcnow())
        try:
            with self._tx() as cur:
                cur.execute(f"INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (%s, %s, %s, %s, %s) "
                            "ON DUPLICATE KEY UPDATE url = VALUES(url), event_types = VALUES(event_types), "
                            "secret = VALUES(secret), updated_at = VALUES(updated_at)", webhook_values(stored))
        except StoreError as exc:
            if exc.db_code == ServerCode.NO_REFERENCED_ROW:
                raise NotFound(f"No client with id '{row.client_id}'.") from None
            raise
        return stored

    def get_webhook(self, client_id) -> WebhookRow | None:
        with self._tx() as cur:
            cur.execute(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE client_id = %s", (client_id,))
            row = cur.fetchone()
        return webhook_from_row(row) if row else None

    def all_webhooks(self) -> list[WebhookRow]:
        with self._tx() as cur:
            cur.execute(f"SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY client_id")
            rows = cur.fetchall()
        return [webhook_from_row(r) for r in rows]

    def delete_webhook(self, client_id) -> bool:
        with self._tx() as cur:
            return cur.execute("DELETE FROM webhooks WHERE client_id = %s", (client_id,)) > 0
