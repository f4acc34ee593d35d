"""The embedded store's hot writes, combined: what many threads write at once goes to SQLite in a
few statements (GroupCommit.combined; sqlite_commit.py says why statements are what counts).

- EnqueueMany: accepted sends, in one INSERT that checks each client's bound.
- EventsMany: events, in one INSERT.
- FinishMany: send outcomes, with the chat's next row claimed: one UPDATE per target state, one for
  the claims, which names the rows it took (RETURNING).
A batch holds at most sqlite_commit.MAX_BATCH writes: 100 rows of 15 parameters stay far below
SQLite's 32,766 parameters per statement.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime

from ..errors import QueueFull
from .outbound import (OPEN, OUTBOUND_COLUMNS, QUEUED, SENDING, OutboundRow, StateChange, lower_states,
                       outbound_values, short_reason)
from .outbound_sql import quoted_states

ROWS_PER_INSERT = 500  # event rows in one statement (an add_events call may bring many)


def _values(width: int, rows: int) -> str:
    one = f"({', '.join(['?'] * width)})"
    return ", ".join([one] * rows)


@dataclass(frozen=True)
class Enqueue:
    row: OutboundRow  # created_at set
    max_open: int


class _SomeFull(Exception):
    """Some rows of the batch did not fit their client's bound: each again on its own."""


class EnqueueMany:
    """Items: Enqueue; results: (the row with its seq, True), or QueueFull.

    One statement: every row goes in while its client's open rows (counted before the statement,
    plus this batch's rows for the client before it) stay under the bound; it names each stored row's
    seq (RETURNING). If some did not fit (rare: a full queue), the ones that did are taken out again
    and each row is tried on its own, which names the full ones."""

    def __init__(self, write_time, count_open: str):
        self._time, self._count_open = write_time, count_open  # count_open: a client's open rows

    def many(self, con: sqlite3.Connection, items: list[Enqueue]) -> list[tuple[OutboundRow, bool] | QueueFull]:
        ahead: dict[str, int] = {}  # this batch's rows per client so far
        values = []
        for item in items:
            rank = ahead.get(item.row.client_id, 0)
            ahead[item.row.client_id] = rank + 1
            values += (*outbound_values(item.row, self._time), item.max_open - rank)
        seqs = dict(con.execute(self._sql(len(items)), values).fetchall())
        if len(seqs) == len(items):
            return [(replace(item.row, seq=seqs[item.row.message_id]), True) for item in items]
        if len(items) == 1:
            client_id = items[0].row.client_id
            return [QueueFull(client_id, con.execute(self._count_open, (client_id,)).fetchone()[0])]
        if seqs:
            con.execute(f"DELETE FROM outbound WHERE message_id IN ({', '.join(['?'] * len(items))})",
                        [item.row.message_id for item in items])
        raise _SomeFull()

    @staticmethod
    def _sql(rows: int) -> str:
        columns = ", ".join(f"column{n}" for n in range(1, 15))
        return (f"INSERT INTO outbound ({OUTBOUND_COLUMNS}) SELECT {columns} FROM (VALUES {_values(15, rows)}) "
                f"WHERE (SELECT COUNT(*) FROM outbound WHERE client_id = column2 AND state IN ({quoted_states(OPEN)})) "
                "< column15 RETURNING message_id, seq")


class EventsMany:
    """Items: lists of event values (store/outbox.py event_values); results: None."""

    def __init__(self, insert_head: str, width: int):
        self._head, self._width = insert_head, width  # "INSERT INTO events (...) VALUES"

    def many(self, con: sqlite3.Connection, items: list[list[tuple]]) -> list[None]:
        rows = [values for item in items for values in item]
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start:start + ROWS_PER_INSERT]
            con.execute(f"{self._head} {_values(self._width, len(chunk))} ON CONFLICT(event_id) DO NOTHING",
                        [v for values in chunk for v in values])
        return [None] * len(items)


@dataclass(frozen=True)
class Finish:
    message_id: str
    change: StateChange
    claim: str | None  # the chat's next row, to mark sending in the same write
    owner: str
    now: datetime


class FinishMany:
    """Items: Finish; results: whether the item's claim took its row (one that finds its row no
    longer queued answers False; the others still take theirs)."""

    def __init__(self, write_time):
        self._time = write_time

    def many(self, con: sqlite3.Connection, items: list[Finish]) -> list[bool]:
        by_state: dict[str, list[Finish]] = {}
        for item in items:
            by_state.setdefault(item.change.state, []).append(item)
        for state, moved in by_state.items():
            self._move(con, state, moved)
        claims = [i for i in items if i.claim is not None]
        taken = self._claim(con, claims) if claims else set()
        results = []
        for item in items:
            results.append(item.claim in taken)
            taken.discard(item.claim)  # a row is one item's to take
        return results

    def _move(self, con: sqlite3.Connection, state: str, items: list[Finish]) -> None:
        t = self._time
        con.execute(
            "UPDATE outbound SET state = v.column1, reason = COALESCE(v.column2, reason), "
            "chat = COALESCE(v.column3, chat), wa_message_id = COALESCE(v.column4, wa_message_id), "
            "sent_at = COALESCE(v.column5, sent_at), updated_at = v.column6 "
            f"FROM (VALUES {_values(7, len(items))}) AS v WHERE outbound.message_id = v.column7 "
            f"AND outbound.state IN ({quoted_states(lower_states(state))})",
            [v for i in items for v in (state, short_reason(i.change.reason), i.change.chat, i.change.wa_message_id,
                                        t(i.change.sent_at), t(i.now), i.message_id)])

    def _claim(self, con: sqlite3.Connection, items: list[Finish]) -> set[str]:
        """The rows the claims took."""
        return {row[0] for row in con.execute(
            f"UPDATE outbound SET state = '{SENDING}', attempts = attempts + 1, claimed_by = v.column2, "
            f"updated_at = v.column3 FROM (VALUES {_values(3, len(items))}) AS v "
            f"WHERE outbound.message_id = v.column1 AND outbound.state = '{QUEUED}' RETURNING outbound.message_id",
            [v for i in items for v in (i.claim, i.owner, self._time(i.now))]).fetchall()}
