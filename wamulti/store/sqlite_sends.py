"""The outbound queue on the embedded SQLite store (mixed into SQLiteStore).

Every write is one step of the store's group commit (sqlite_commit.py), so the bound check, the
idempotency lookup and the insert of one enqueue are one serialised step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from ..errors import QueueFull
from .client_rows import read_time, text_time, utcnow
from .send_rows import PRUNE_BATCH, OutboundRow, OutboundStore, StateChange, outbound_values
from .send_sql import OutboundSQL, by_state, id_chunks

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
OUTBOUND_OWNER = """
    ALTER TABLE outbound ADD COLUMN claimed_by TEXT;
    CREATE INDEX ix_outbound_state ON outbound (state, updated_at)
"""
OUTBOUND_PAYLOAD = """
    ALTER TABLE outbound ADD COLUMN payload TEXT;
    ALTER TABLE outbound ADD COLUMN media_id TEXT;
    CREATE INDEX ix_outbound_media ON outbound (media_id)
"""

_SQL = OutboundSQL("?", text_time, read_time)


class SQLiteOutbound(OutboundStore):
    """The OutboundStore methods over SQLiteStore's `_tx(immediate)`."""

    def enqueue_send(self, row: OutboundRow, max_open: int, idem_since: datetime) -> tuple[OutboundRow, bool]:
        now = utcnow()
        stored = replace(row, created_at=now, updated_at=now)
        if row.idem_key is not None:
            return self._enqueue_keyed(stored, max_open, idem_since)
        # one statement (the bound checked inside it), so the write needs no savepoint of its own
        with self._tx(immediate=True, savepoint=False) as con:
            cur = con.execute(_SQL.insert_below, (*outbound_values(stored, text_time), row.client_id, max_open))
            if cur.rowcount == 0:  # nothing inserted: the queue is full
                raise QueueFull(row.client_id, con.execute(_SQL.count_open, (row.client_id,)).fetchone()[0])
            return replace(stored, seq=cur.lastrowid), True

    def _enqueue_keyed(self, stored: OutboundRow, max_open: int, idem_since: datetime) -> tuple[OutboundRow, bool]:
        with self._tx(immediate=True) as con:
            con.execute(_SQL.free_key, (stored.idem_key, text_time(idem_since)))
            held = con.execute(_SQL.by_key, (stored.idem_key,)).fetchone()
            if held is not None:
                return _SQL.row(held), False
            count = con.execute(_SQL.count_open, (stored.client_id,)).fetchone()[0]
            if count >= max_open:
                raise QueueFull(stored.client_id, count)
            cur = con.execute(_SQL.insert, outbound_values(stored, text_time))
            return replace(stored, seq=cur.lastrowid), True

    def open_sends(self, client_id: str) -> list[OutboundRow]:
        with self._tx() as con:
            rows = con.execute(_SQL.open_rows, (client_id,)).fetchall()
        return [_SQL.row(r) for r in rows]

    # a write of one statement runs without a savepoint (GroupCommit.write)
    def claim_send(self, message_id: str, owner: str = "") -> bool:
        with self._tx(immediate=True, savepoint=False) as con:
            return con.execute(_SQL.claim, _SQL.claim_args(message_id, owner, utcnow())).rowcount > 0

    def finish_send(self, message_id: str, change: StateChange, claim: str | None = None, owner: str = "") -> bool:
        now = utcnow()
        with self._tx(immediate=True, savepoint=claim is not None) as con:
            con.execute(*_SQL.move(message_id, change, now))
            return claim is not None and con.execute(_SQL.claim, _SQL.claim_args(claim, owner, now)).rowcount > 0

    def set_send_state(self, message_id: str, state: str, *, reason: str | None = None, chat: str | None = None,
                       wa_message_id: str | None = None, sent_at: datetime | None = None) -> bool:
        change = StateChange(state, reason, chat, wa_message_id, sent_at)
        with self._tx(immediate=True, savepoint=False) as con:
            return con.execute(*_SQL.move(message_id, change, utcnow())).rowcount > 0

    def advance_sends(self, changes: Sequence[tuple[str, str]]) -> int:
        now = utcnow()
        with self._tx(immediate=True) as con:
            return sum(con.execute(*_SQL.advance(state, ids, now)).rowcount for state, ids in by_state(changes))

    def fail_open_sends(self, client_id: str, state: str, reason: str, created_before: datetime | None = None,
                        owner: str | None = None) -> list[OutboundRow]:
        with self._tx(immediate=True) as con:
            return self._fail(con, _SQL.open_of(client_id, state, created_before, owner), reason)

    def load_open_sends(self, client_ids: Sequence[str], state: str, reason: str, owner: str | None
                        ) -> tuple[list[OutboundRow], list[OutboundRow]]:
        failed, open_rows = [], []
        with self._tx(immediate=True) as con:
            for chunk in id_chunks(list(client_ids)):
                failed += self._fail(con, _SQL.owned_of_many(chunk, state, owner), reason)
                open_rows += [_SQL.row(r) for r in con.execute(*_SQL.open_of_many(chunk)).fetchall()]
        return failed, open_rows

    def fail_old_sends(self, state: str, updated_before: datetime, reason: str, limit: int = PRUNE_BATCH
                       ) -> list[OutboundRow]:
        with self._tx(immediate=True) as con:
            return self._fail(con, _SQL.older(state, updated_before, limit), reason)

    @staticmethod
    def _fail(con, select: tuple[str, tuple], reason: str) -> list[OutboundRow]:
        rows = [_SQL.row(r) for r in con.execute(*select).fetchall()]
        if rows:
            con.execute(*_SQL.fail(rows, reason, utcnow()))
        return rows

    def get_send(self, message_id: str) -> OutboundRow | None:
        with self._tx() as con:
            row = con.execute(_SQL.by_id, (message_id,)).fetchone()
        return _SQL.row(row) if row else None

    def media_ids_in_open_sends(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        with self._tx() as con:
            for chunk in id_chunks(list(ids)):
                found.update(r[0] for r in con.execute(*_SQL.media_in_open(chunk)).fetchall())
        return found

    def prune_sends(self, finished_before: datetime, limit: int = PRUNE_BATCH) -> int:
        select, args = _SQL.prune(finished_before, limit)
        with self._tx(immediate=True) as con:
            return con.execute(f"DELETE FROM outbound WHERE seq IN ({select})", args).rowcount
