"""The outbound queue on the embedded SQLite store (mixed into SQLiteStore).

Every write runs under BEGIN IMMEDIATE, so the bound check, the idempotency lookup and the insert
of one enqueue are one serialised step.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..errors import QueueFull
from .outbound import (OUTBOUND_COLUMNS, FAILED, OPEN, QUEUED, SENDING, OutboundRow, OutboundStore, lower_states,
                       outbound_from_row, outbound_values, short_reason)
from .rows import utcnow
from .sqlite_outbox import read_time, text_time

OUTBOUND_TABLE = """
    CREATE TABLE outbound (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id    TEXT NOT NULL UNIQUE,
        client_id     TEXT NOT NULL,
        recipient     TEXT NOT NULL,
        chat          TEXT,
        body          TEXT NOT NULL,
        state         TEXT NOT NULL,
        reason        TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        wa_message_id TEXT,
        idem_key      TEXT UNIQUE,
        idem_hash     TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        sent_at       TEXT
    );
    CREATE INDEX ix_outbound_client ON outbound (client_id, state, seq);
    CREATE INDEX ix_outbound_updated ON outbound (updated_at)
"""

_SELECT = f"SELECT {OUTBOUND_COLUMNS}, seq FROM outbound "
_OPEN = ", ".join(f"'{s}'" for s in OPEN)


def _row(values) -> OutboundRow:
    return outbound_from_row(values, read_time)


class SQLiteOutbound(OutboundStore):
    """The OutboundStore methods over SQLiteStore's `_tx(immediate)`."""

    def enqueue_send(self, row: OutboundRow, max_open: int, idem_since: datetime) -> tuple[OutboundRow, bool]:
        now = utcnow()
        with self._tx(immediate=True) as con:
            if row.idem_key is not None:
                con.execute("UPDATE outbound SET idem_key = NULL WHERE idem_key = ? AND created_at < ?",
                            (row.idem_key, text_time(idem_since)))
                held = con.execute(_SELECT + "WHERE idem_key = ?", (row.idem_key,)).fetchone()
                if held is not None:
                    return _row(held), False
            count = con.execute(f"SELECT COUNT(*) FROM outbound WHERE client_id = ? AND state IN ({_OPEN})",
                                (row.client_id,)).fetchone()[0]
            if count >= max_open:
                raise QueueFull(row.client_id, count)
            stored = replace(row, created_at=now, updated_at=now)
            cur = con.execute(f"INSERT INTO outbound ({OUTBOUND_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                              outbound_values(stored, text_time))
            return replace(stored, seq=cur.lastrowid), True

    def open_sends(self, client_id: str) -> list[OutboundRow]:
        with self._tx() as con:
            rows = con.execute(_SELECT + f"WHERE client_id = ? AND state IN ({_OPEN}) ORDER BY seq",
                               (client_id,)).fetchall()
        return [_row(r) for r in rows]

    def claim_send(self, message_id: str) -> bool:
        with self._tx(immediate=True) as con:
            return con.execute("UPDATE outbound SET state = ?, attempts = attempts + 1, updated_at = ? "
                               "WHERE message_id = ? AND state = ?",
                               (SENDING, text_time(utcnow()), message_id, QUEUED)).rowcount > 0

    def set_send_state(self, message_id: str, state: str, *, reason: str | None = None, chat: str | None = None,
                       wa_message_id: str | None = None, sent_at: datetime | None = None) -> bool:
        lower = lower_states(state)
        with self._tx(immediate=True) as con:
            return con.execute(
                "UPDATE outbound SET state = ?, reason = COALESCE(?, reason), chat = COALESCE(?, chat), "
                "wa_message_id = COALESCE(?, wa_message_id), sent_at = COALESCE(?, sent_at), updated_at = ? "
                f"WHERE message_id = ? AND state IN ({', '.join('?' * len(lower))})",
                (state, short_reason(reason), chat, wa_message_id, text_time(sent_at), text_time(utcnow()),
                 message_id, *lower)).rowcount > 0

    def fail_open_sends(self, client_id: str, state: str, reason: str, created_before: datetime | None = None
                        ) -> list[OutboundRow]:
        where = "WHERE client_id = ? AND state = ?" + (" AND created_at < ?" if created_before else "")
        args = (client_id, state) + ((text_time(created_before),) if created_before else ())
        with self._tx(immediate=True) as con:
            rows = [_row(r) for r in con.execute(_SELECT + where + " ORDER BY seq", args).fetchall()]
            con.execute("UPDATE outbound SET state = ?, reason = ?, updated_at = ? " + where,
                        (FAILED, short_reason(reason), text_time(utcnow()), *args))
        return rows

    def get_send(self, message_id: str) -> OutboundRow | None:
        with self._tx() as con:
            row = con.execute(_SELECT + "WHERE message_id = ?", (message_id,)).fetchone()
        return _row(row) if row else None

    def prune_sends(self, finished_before: datetime) -> int:
        with self._tx(immediate=True) as con:
            return con.execute(f"DELETE FROM outbound WHERE state NOT IN ({_OPEN}) AND updated_at < ?",
                               (text_time(finished_before),)).rowcount
