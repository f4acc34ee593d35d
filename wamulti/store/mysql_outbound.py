"""The outbound queue on MySQL/MariaDB (mixed into MySQLStore).

The bound check and the insert of one enqueue run in one transaction; two enqueues racing for one
idempotency key meet at its unique index, and the loser returns the winner's row.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..errors import QueueFull
from .base import DuplicateClient
from .outbound import (OUTBOUND_COLUMNS, FAILED, OPEN, QUEUED, SENDING, OutboundRow, OutboundStore, lower_states,
                       outbound_from_row, outbound_values, short_reason)
from .rows import utcnow

_BIN = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
_ASCII = "CHARACTER SET ascii COLLATE ascii_bin"

OUTBOUND_TABLE = [
    f"""CREATE TABLE IF NOT EXISTS outbound (
        seq           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        message_id    VARCHAR(64) {_ASCII} NOT NULL,
        client_id     VARCHAR(64) {_BIN} NOT NULL,
        recipient     VARCHAR(160) {_BIN} NOT NULL,
        chat          VARCHAR(160) {_BIN} NULL,
        body          MEDIUMTEXT NOT NULL,
        state         VARCHAR(16) {_ASCII} NOT NULL,
        reason        VARCHAR(255) NULL,
        attempts      INT NOT NULL DEFAULT 0,
        wa_message_id VARCHAR(128) {_ASCII} NULL,
        idem_key      VARCHAR(255) {_BIN} NULL,
        idem_hash     CHAR(64) {_ASCII} NULL,
        created_at    DATETIME(6) NOT NULL,
        updated_at    DATETIME(6) NOT NULL,
        sent_at       DATETIME(6) NULL,
        UNIQUE KEY ux_outbound_message (message_id),
        UNIQUE KEY ux_outbound_idem (idem_key),
        KEY ix_outbound_client (client_id, state, seq),
        KEY ix_outbound_updated (updated_at)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
]

_SELECT = f"SELECT {OUTBOUND_COLUMNS}, seq FROM outbound "
_OPEN = ", ".join(f"'{s}'" for s in OPEN)


def _row(values) -> OutboundRow:
    return outbound_from_row(values, lambda t: t)


class MySQLOutbound(OutboundStore):
    """The OutboundStore methods over MySQLStore's `_tx()` (a cursor in one transaction)."""

    def enqueue_send(self, row: OutboundRow, max_open: int, idem_since: datetime) -> tuple[OutboundRow, bool]:
        try:
            return self._enqueue(row, max_open, idem_since)
        except DuplicateClient:  # another request took the key first: answer with its row
            held = self._held_by(row.idem_key) if row.idem_key else None
            if held is None:
                raise
            return held, False

    def _enqueue(self, row: OutboundRow, max_open: int, idem_since: datetime) -> tuple[OutboundRow, bool]:
        now = utcnow()
        with self._tx() as cur:
            if row.idem_key is not None:
                cur.execute("UPDATE outbound SET idem_key = NULL WHERE idem_key = %s AND created_at < %s",
                            (row.idem_key, idem_since))
                cur.execute(_SELECT + "WHERE idem_key = %s", (row.idem_key,))
                held = cur.fetchone()
                if held is not None:
                    return _row(held), False
            cur.execute(f"SELECT COUNT(*) FROM outbound WHERE client_id = %s AND state IN ({_OPEN})",
                        (row.client_id,))
            count = cur.fetchone()[0]
            if count < max_open:
                stored = replace(row, created_at=now, updated_at=now)
                cur.execute(f"INSERT INTO outbound ({OUTBOUND_COLUMNS}) VALUES ({', '.join(['%s'] * 14)})",
                            outbound_values(stored, lambda t: t))
                return replace(stored, seq=cur.lastrowid), True
        raise QueueFull(row.client_id, count)  # outside the transaction: _tx turns any error into StoreError

    def _held_by(self, idem_key: str) -> OutboundRow | None:
        with self._tx() as cur:
            cur.execute(_SELECT + "WHERE idem_key = %s", (idem_key,))
            row = cur.fetchone()
        return _row(row) if row else None

    def open_sends(self, client_id: str) -> list[OutboundRow]:
        with self._tx() as cur:
            cur.execute(_SELECT + f"WHERE client_id = %s AND state IN ({_OPEN}) ORDER BY seq", (client_id,))
            rows = cur.fetchall()
        return [_row(r) for r in rows]

    def claim_send(self, message_id: str) -> bool:
        with self._tx() as cur:
            return cur.execute("UPDATE outbound SET state = %s, attempts = attempts + 1, updated_at = %s "
                               "WHERE message_id = %s AND state = %s", (SENDING, utcnow(), message_id, QUEUED)) > 0

    def set_send_state(self, message_id: str, state: str, *, reason: str | None = None, chat: str | None = None,
                       wa_message_id: str | None = None, sent_at: datetime | None = None) -> bool:
        lower = lower_states(state)
        with self._tx() as cur:
            return cur.execute(
                "UPDATE outbound SET state = %s, reason = COALESCE(%s, reason), chat = COALESCE(%s, chat), "
                "wa_message_id = COALESCE(%s, wa_message_id), sent_at = COALESCE(%s, sent_at), updated_at = %s "
                f"WHERE message_id = %s AND state IN ({', '.join(['%s'] * len(lower))})",
                (state, short_reason(reason), chat, wa_message_id, sent_at, utcnow(), message_id, *lower)) > 0

    def fail_open_sends(self, client_id: str, state: str, reason: str, created_before: datetime | None = None
                        ) -> list[OutboundRow]:
        where = "WHERE client_id = %s AND state = %s" + (" AND created_at < %s" if created_before else "")
        args = (client_id, state) + ((created_before,) if created_before else ())
        with self._tx() as cur:
            cur.execute(_SELECT + where + " ORDER BY seq FOR UPDATE", args)
            rows = [_row(r) for r in cur.fetchall()]
            cur.execute("UPDATE outbound SET state = %s, reason = %s, updated_at = %s " + where,
                        (FAILED, short_reason(reason), utcnow(), *args))
        return rows

    def get_send(self, message_id: str) -> OutboundRow | None:
        with self._tx() as cur:
            cur.execute(_SELECT + "WHERE message_id = %s", (message_id,))
            row = cur.fetchone()
        return _row(row) if row else None

    def prune_sends(self, finished_before: datetime) -> int:
        with self._tx() as cur:
            return cur.execute(f"DELETE FROM outbound WHERE state NOT IN ({_OPEN}) AND updated_at < %s",
                               (finished_before,))
