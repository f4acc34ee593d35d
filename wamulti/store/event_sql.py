"""The outbox's tables and statements (events, delivery lanes, webhooks), written once for both stores.

Each store only says how it runs a statement (`_outbox_statements`), its placeholder ('?' for
sqlite3, '%s' for PyMySQL), how it stores times, and the few clauses its dialect spells its own way
(`OutboxDialect`). Lease times on MySQL come from the database clock (UTC_TIMESTAMP), so instances
on different hosts agree on when a claim ran out; SQLite's come from the application's clock (one
host). Due times (`next_at`) are always written by the application.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import NotFound
from .client_rows import utcnow
from .event_rows import (EVENT_COLUMNS, PENDING, PRUNE_BATCH, WEBHOOK_COLUMNS, EventRow, OutboxStore, WebhookRow,
                         due_prefix, event_filter, event_from_row, event_values, short_error, webhook_from_row,
                         webhook_values)

_BIN = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
_ASCII = "CHARACTER SET ascii COLLATE ascii_bin"
_TABLE = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"

MYSQL_OUTBOX_TABLES = [
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
SQLITE_OUTBOX_TABLES = """
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

# What a store's `_outbox_statements()` yields: run(sql, args) -> (rows fetched, rows changed), and
# run_many(sql, rows of args) for one statement over many rows.
RunStatement = Callable[[str, Sequence[Any]], tuple[list, int]]
RunMany = Callable[[str, Sequence[Sequence[Any]]], None]


@dataclass(frozen=True)
class OutboxDialect:
    """What one store's SQL says its own way; `now` / `lease_until` are clauses with their parameters."""

    p: str  # the placeholder
    write_time: Callable[[datetime | None], Any]
    read_time: Callable[[Any], datetime | None]
    keep_existing: str  # the tail of an INSERT that leaves a row with the same key as it is
    upsert: str  # the head of the clause that updates the row with the same key instead
    prune: str  # delete up to (before_id, PENDING, limit) finished rows, oldest first
    now: Callable[[], tuple[str, tuple]]
    lease_until: Callable[[float], tuple[str, tuple]]


class OutboxSQL:
    """The statements in one dialect."""

    def __init__(self, d: OutboxDialect):
        p = d.p
        self.d = d
        self.insert_event = (f"INSERT INTO events ({EVENT_COLUMNS}, media_id) VALUES ({', '.join([p] * 13)}) "
                             f"{d.keep_existing}")
        self.event_by_id = f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = {p}"
        self.pending_of = (f"SELECT {EVENT_COLUMNS} FROM events WHERE client_id = {p} AND delivery = 'pending' "
                           f"ORDER BY event_id LIMIT {p}")
        self.heads = ("SELECT e.client_id, e.next_at FROM (SELECT client_id, MIN(event_id) AS head FROM events "
                      "WHERE delivery = 'pending' GROUP BY client_id) h JOIN events e ON e.event_id = h.head "
                      "LEFT JOIN delivery_lanes l ON l.client_id = h.client_id "
                      "WHERE l.claim_token IS NULL OR l.claimed_until < ")
        self.lane_exists = f"SELECT 1 FROM delivery_lanes WHERE client_id = {p}"
        self.new_lane = f"INSERT INTO delivery_lanes (client_id) VALUES ({p}) {d.keep_existing}"
        self.release = (f"UPDATE delivery_lanes SET claim_token = NULL, claimed_until = NULL "
                        f"WHERE client_id = {p} AND claim_token = {p}")
        self.record = (f"UPDATE events SET delivery = {p}, attempts = attempts + {p}, next_at = {p}, "
                       f"last_status = {p}, last_error = {p}, finished_at = {p} "
                       f"WHERE event_id = {p} AND delivery = 'pending'")
        self.requeue = (f"UPDATE events SET delivery = 'pending', attempts = 0, queued_at = {p}, next_at = {p}, "
                        "finished_at = NULL WHERE ")
        self.save_webhook = (f"INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ({p}, {p}, {p}, {p}, {p}) "
                             f"{d.upsert} url = {p}, event_types = {p}, secret = {p}, updated_at = {p}")
        self.webhook_of = f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE client_id = {p}"
        self.webhooks = f"SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY client_id"
        self.delete_webhook = f"DELETE FROM webhooks WHERE client_id = {p}"

    def take_lane(self, client_id: str, token: str, lease_seconds: float) -> tuple[str, tuple]:
        """Hold the lane if it is free, expired, or held by `token` already (the lease renewed)."""
        p, (until, until_args), (now, now_args) = self.d.p, self.d.lease_until(lease_seconds), self.d.now()
        return (f"UPDATE delivery_lanes SET claim_token = {p}, claimed_until = {until} WHERE client_id = {p} "
                f"AND (claim_token IS NULL OR claim_token = {p} OR claimed_until < {now})",
                (token, *until_args, client_id, token, *now_args))

    def renew_lane(self, client_id: str, token: str, lease_seconds: float) -> tuple[str, tuple]:
        until, until_args = self.d.lease_until(lease_seconds)
        return (f"UPDATE delivery_lanes SET claimed_until = {until} WHERE client_id = {self.d.p} "
                f"AND claim_token = {self.d.p}", (*until_args, client_id, token))


class SQLOutbox(OutboxStore):
    """The OutboxStore methods for both SQL stores, over the store's `_outbox_statements(write)`."""

    _outbox_sql: OutboxSQL

    def _outbox_statements(self, write: bool, savepoint: bool = True
                           ) -> AbstractContextManager[tuple[RunStatement, RunMany]]:
        """Each store's own: (run, run_many) inside one transaction (a write one when `write`;
        savepoint=False: a write of one statement, see sqlite_commit.GroupCommit.write)."""
        raise NotImplementedError

    def _missing_reference(self, exc: Exception) -> bool:
        """Each store's own: whether `exc` says a row's client does not exist (a foreign key)."""
        raise NotImplementedError

    def add_events(self, rows: Sequence[EventRow]) -> None:
        if not rows:
            return
        sql = self._outbox_sql
        values = [(*event_values(r, sql.d.write_time), r.media_id) for r in rows]
        # one row (an event published on its own thread) is one statement: no savepoint needed. A retry
        # after a lost commit acknowledgement finds its rows there already: they are kept.
        with self._outbox_statements(True, savepoint=len(values) > 1) as (_, run_many):
            run_many(sql.insert_event, values)

    def get_event(self, event_id: str) -> EventRow | None:
        with self._outbox_statements(False) as (run, _):
            rows, _ = run(self._outbox_sql.event_by_id, (event_id,))
        return event_from_row(rows[0], self._outbox_sql.d.read_time) if rows else None

    def list_events(self, *, client_id=None, client_ids=None, type=None, after=None, limit=100) -> list[EventRow]:
        d = self._outbox_sql.d
        where, params = event_filter(d.p, client_id=client_id, client_ids=client_ids, type=type, after=after)
        with self._outbox_statements(False) as (run, _):
            rows, _ = run(f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY event_id LIMIT {d.p}",
                          (*params, int(limit)))
        return [event_from_row(r, d.read_time) for r in rows]

    def pending_heads(self):
        sql = self._outbox_sql
        now, now_args = sql.d.now()
        with self._outbox_statements(False) as (run, _):
            rows, _ = run(sql.heads + now, now_args)
        return [(client_id, sql.d.read_time(next_at) or utcnow()) for client_id, next_at in rows]

    def claim_events(self, client_id, token, lease_seconds, limit=1) -> list[EventRow]:
        sql = self._outbox_sql
        for _ in range(2):
            with self._outbox_statements(True) as (run, _):
                if run(*sql.take_lane(client_id, token, lease_seconds))[1] > 0:
                    return self._due_or_release(run, client_id, token, limit)
                if run(sql.lane_exists, (client_id,))[0]:
                    return []  # another holder's lease runs
            # The client's first claim (once per client): its lane row is made in a transaction of its
            # own. On MySQL, inserting it after the failed UPDATE above (which holds a gap lock under
            # REPEATABLE READ) could deadlock with another client's first claim into the same gap.
            with self._outbox_statements(True, savepoint=False) as (run, _):
                run(sql.new_lane, (client_id,))
        return []

    def _due_or_release(self, run: RunStatement, client_id: str, token: str, limit: int) -> list[EventRow]:
        sql = self._outbox_sql
        rows, _ = run(sql.pending_of, (client_id, int(limit)))
        due = due_prefix([event_from_row(r, sql.d.read_time) for r in rows], utcnow())
        if not due:
            run(sql.release, (client_id, token))
        return due

    def record_attempts(self, client_id, token, results, lease_seconds, then_claim=0) -> list[EventRow] | None:
        sql = self._outbox_sql
        t = sql.d.write_time
        with self._outbox_statements(True) as (run, run_many):
            if not run(*sql.renew_lane(client_id, token, lease_seconds))[1]:
                return None
            if results:
                run_many(sql.record, [(r.delivery, int(r.attempted), t(r.next_at), r.last_status,
                                       short_error(r.last_error), t(r.finished_at), r.event_id) for r in results])
            return self._due_or_release(run, client_id, token, then_claim) if then_claim > 0 else []

    def release_lane(self, client_id, token) -> None:
        with self._outbox_statements(True, savepoint=False) as (run, _):
            run(self._outbox_sql.release, (client_id, token))

    def requeue_event(self, event_id) -> bool:
        sql = self._outbox_sql
        now = sql.d.write_time(utcnow())
        with self._outbox_statements(True, savepoint=False) as (run, _):
            return run(sql.requeue + f"event_id = {sql.d.p}", (now, now, event_id))[1] > 0

    def requeue_client_events(self, client_id, after, types) -> int:
        sql = self._outbox_sql
        p, now = sql.d.p, sql.d.write_time(utcnow())
        statement, params = sql.requeue + f"client_id = {p} AND event_id > {p}", [now, now, client_id, after or ""]
        if types is not None:
            if not types:
                return 0
            statement += f" AND type IN ({', '.join([p] * len(types))})"
            params.extend(types)
        with self._outbox_statements(True, savepoint=False) as (run, _):
            return run(statement, params)[1]

    def prune_events(self, before_id) -> int:
        total = 0
        while True:
            with self._outbox_statements(True, savepoint=False) as (run, _):
                n = run(self._outbox_sql.d.prune, (before_id, PENDING, PRUNE_BATCH))[1]
            total += n
            if n < PRUNE_BATCH:
                return total

    def save_webhook(self, row: WebhookRow) -> WebhookRow:
        sql = self._outbox_sql
        stored = WebhookRow(row.client_id, row.url, row.event_types, row.secret, utcnow())
        values = webhook_values(stored, sql.d.write_time)
        try:
            # the new values repeated for the update: MySQL 8.0.20 deprecates VALUES() there, and
            # MariaDB has no `AS new` row alias
            with self._outbox_statements(True, savepoint=False) as (run, _):
                run(sql.save_webhook, (*values, *values[1:]))
        except Exception as exc:
            if self._missing_reference(exc):
                raise NotFound(f"No client with id '{row.client_id}'.") from None
            raise
        return stored

    def get_webhook(self, client_id) -> WebhookRow | None:
        with self._outbox_statements(False) as (run, _):
            rows, _ = run(self._outbox_sql.webhook_of, (client_id,))
        return webhook_from_row(rows[0], self._outbox_sql.d.read_time) if rows else None

    def all_webhooks(self) -> list[WebhookRow]:
        with self._outbox_statements(False) as (run, _):
            rows, _ = run(self._outbox_sql.webhooks, ())
        return [webhook_from_row(r, self._outbox_sql.d.read_time) for r in rows]

    def delete_webhook(self, client_id) -> bool:
        with self._outbox_statements(True, savepoint=False) as (run, _):
            return run(self._outbox_sql.delete_webhook, (client_id,))[1] > 0


def sqlite_lease_until(seconds: float, write_time: Callable[[datetime], Any]) -> tuple[str, tuple]:
    """SQLite's lease end: the application's clock."""
    return "?", (write_time(utcnow() + timedelta(seconds=seconds)),)


def mysql_lease_until(seconds: float) -> tuple[str, tuple]:
    """MySQL's lease end: the database's clock, so every instance agrees."""
    return "UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND", (max(1, int(seconds * 1_000_000)),)
