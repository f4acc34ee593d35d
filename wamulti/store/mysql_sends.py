"""The outbound queue on MySQL/MariaDB (mixed into MySQLStore).

The bound check and the insert of one enqueue run in one transaction; two enqueues racing for one
idempotency key meet at its unique index, and the loser returns the winner's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from ..errors import QueueFull
from .client_rows import utcnow
from .send_rows import OUTBOUND_COLUMNS, PRUNE_BATCH, QUEUED, OutboundRow, OutboundStore, StateChange, outbound_values
from .send_sql import OutboundSQL, by_state, id_chunks
from .store_api import DuplicateClient

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
OUTBOUND_OWNER = [
    f"ALTER TABLE outbound ADD COLUMN claimed_by VARCHAR(64) {_ASCII} NULL",
    "CREATE INDEX ix_outbound_state ON outbound (state, updated_at)",
]
OUTBOUND_PAYLOAD = [  # NULL for plain texts: the rows of before stay valid as they are
    "ALTER TABLE outbound ADD COLUMN payload MEDIUMTEXT NULL",
    f"ALTER TABLE outbound ADD COLUMN media_id VARCHAR(64) {_ASCII} NULL",
    "CREATE INDEX ix_outbound_media ON outbound (media_id)",
]

_SQL = OutboundSQL("%s", lambda t: t, lambda t: t)
_OWNED_QUEUED = (f"SELECT {', '.join('o.' + c for c in OUTBOUND_COLUMNS.split(', '))}, o.seq FROM client_leases l "
                 f"JOIN outbound o ON o.client_id = l.client_id AND o.state = '{QUEUED}' "
                 "WHERE l.owner = %s AND l.expires_at >= UTC_TIMESTAMP(6) ORDER BY o.seq")


class MySQLOutbound(OutboundStore):
    """The OutboundStore methods over MySQLStore's `_tx()` (a cursor in one transaction)."""

    def enqueue_send(self, row: OutboundRow, max_open: int, idem_since: datetime) -> tuple[OutboundRow, bool]:
        try:
            # InnoDB may still undo one of two racing enqueues whole (a deadlock); it runs again
            return self._again_after_deadlock(self._enqueue, row, max_open, idem_since)
        except DuplicateClient:  # another request took the key first: answer with its row
            held = self._held_by(row.idem_key) if row.idem_key else None
            if held is None:
                raise
            return held, False

    def _enqueue(self, row: OutboundRow, max_open: int, idem_since: datetime) -> tuple[OutboundRow, bool]:
        now = utcnow()
        with self._tx() as cur:
            if row.idem_key is not None:
                # read first, and free an expired key only when there is one: the UPDATE of a key no row
                # holds would lock the index's gap, and two enqueues inserting into it deadlock
                cur.execute(_SQL.by_key, (row.idem_key,))
                held = cur.fetchone()
                if held is not None and _SQL.row(held).created_at >= idem_since:
                    return _SQL.row(held), False
                if held is not None:
                    cur.execute(_SQL.free_key, (row.idem_key, idem_since))
            cur.execute(_SQL.count_open, (row.client_id,))
            count = cur.fetchone()[0]
            if count < max_open:
                stored = replace(row, created_at=now, updated_at=now)
                cur.execute(_SQL.insert, outbound_values(stored, lambda t: t))
                return replace(stored, seq=cur.lastrowid), True
        raise QueueFull(row.client_id, count)  # outside the transaction: _tx turns any error into StoreError

    def _held_by(self, idem_key: str) -> OutboundRow | None:
        return self._one(_SQL.by_key, idem_key)

    def _one(self, select: str, key: str) -> OutboundRow | None:
        with self._tx() as cur:
            cur.execute(select, (key,))
            row = cur.fetchone()
        return _SQL.row(row) if row else None

    def open_sends(self, client_id: str) -> list[OutboundRow]:
        with self._tx() as cur:
            cur.execute(_SQL.open_rows, (client_id,))
            rows = cur.fetchall()
        return [_SQL.row(r) for r in rows]

    def claim_send(self, message_id: str, owner: str = "") -> bool:
        with self._tx() as cur:
            self._refuse_stale_send(cur, message_id)  # CLUSTER=on: only the lease's holder claims
            return cur.execute(_SQL.claim, _SQL.claim_args(message_id, owner, utcnow())) > 0

    def finish_send(self, message_id: str, change: StateChange, claim: str | None = None, owner: str = "") -> bool:
        now = utcnow()
        with self._tx() as cur:
            self._refuse_stale_send(cur, message_id)  # a former owner's outcome is refused (the row stays
            # `sending` and the new owner fails it `outcome_unknown`)
            cur.execute(*_SQL.move(message_id, change, now))
            return claim is not None and cur.execute(_SQL.claim, _SQL.claim_args(claim, owner, now)) > 0

    def set_send_state(self, message_id: str, state: str, *, reason: str | None = None, chat: str | None = None,
                       wa_message_id: str | None = None, sent_at: datetime | None = None) -> bool:
        change = StateChange(state, reason, chat, wa_message_id, sent_at)
        with self._tx() as cur:
            self._refuse_stale_send(cur, message_id)
            return cur.execute(*_SQL.move(message_id, change, utcnow())) > 0

    def advance_sends(self, changes: Sequence[tuple[str, str]]) -> int:
        now = utcnow()
        with self._tx() as cur:
            return sum(cur.execute(*_SQL.advance(state, ids, now)) for state, ids in by_state(changes))

    def fail_open_sends(self, client_id: str, state: str, reason: str, created_before: datetime | None = None,
                        owner: str | None = None) -> list[OutboundRow]:
        return self._fail(_SQL.open_of(client_id, state, created_before, owner), reason)

    def load_open_sends(self, client_ids: Sequence[str], state: str, reason: str, owner: str | None
                        ) -> tuple[list[OutboundRow], list[OutboundRow]]:
        failed, open_rows = [], []
        with self._tx() as cur:
            for chunk in id_chunks(list(client_ids)):
                failed += self._fail_in(cur, _SQL.owned_of_many(chunk, state, owner), reason)
                cur.execute(*_SQL.open_of_many(chunk))
                open_rows += [_SQL.row(r) for r in cur.fetchall()]
        return failed, open_rows

    def fail_old_sends(self, state: str, updated_before: datetime, reason: str, limit: int = PRUNE_BATCH
                       ) -> list[OutboundRow]:
        return self._fail(_SQL.older(state, updated_before, limit), reason)

    def _fail(self, select: tuple[str, tuple], reason: str) -> list[OutboundRow]:
        with self._tx() as cur:
            return self._fail_in(cur, select, reason)

    @staticmethod
    def _fail_in(cur, select: tuple[str, tuple], reason: str) -> list[OutboundRow]:
        statement, args = select
        cur.execute(statement + " FOR UPDATE", args)  # a second instance waits, then finds them failed
        rows = [_SQL.row(r) for r in cur.fetchall()]
        if rows:
            cur.execute(*_SQL.fail(rows, reason, utcnow()))
        return rows

    def queued_sends_of_owner(self, owner: str) -> list[OutboundRow]:
        """CLUSTER=on: the queued rows of every client whose live lease `owner` holds, in order of
        acceptance (the owner's pickup of rows other instances accepted)."""
        with self._tx() as cur:
            cur.execute(_OWNED_QUEUED, (owner,))
            return [_SQL.row(r) for r in cur.fetchall()]

    def get_send(self, message_id: str) -> OutboundRow | None:
        return self._one(_SQL.by_id, message_id)

    def media_ids_in_open_sends(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        with self._tx() as cur:
            for chunk in id_chunks(list(ids)):
                cur.execute(*_SQL.media_in_open(chunk))
                found.update(r[0] for r in cur.fetchall())
        return found

    def prune_sends(self, finished_before: datetime, limit: int = PRUNE_BATCH) -> int:
        select, args = _SQL.prune(finished_before, limit)
        with self._tx() as cur:
            cur.execute(select, args)
            seqs = [r[0] for r in cur.fetchall()]
            if not seqs:
                return 0
            return cur.execute(f"DELETE FROM outbound WHERE seq IN ({', '.join(['%s'] * len(seqs))})", seqs)
