"""What the SQL stores share about client rows: the columns, naive UTC times, records to and from rows.

Both stores keep times as naive UTC datetimes; each converts them to its own column type through
the `write_time` / `read_time` hooks (SQLite stores text, MySQL stores DATETIME(6)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from .store_api import ClientRecord

COLUMNS = "client_id, phone, jid, state, last_error, created_at, updated_at"
"""The clients table's columns, in the order of `row_values` and `record_from_row`."""


def utcnow() -> datetime:
    """Now, as a naive UTC datetime."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def naive_utc(dt: datetime | None) -> datetime | None:
    """`dt` as a naive UTC datetime (an aware one is converted; a naive one is taken as UTC)."""
    if dt is not None and dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def text_time(dt: datetime | None) -> str | None:
    """A naive UTC datetime as sortable text, as SQLite stores it (None stays None)."""
    # the text of strftime("%Y-%m-%d %H:%M:%S.%f") for years >= 1000, at a quarter of its cost
    return None if dt is None else dt.isoformat(" ", "microseconds")


def read_time(value: str | None) -> datetime | None:
    """The datetime of text_time's text."""
    return datetime.fromisoformat(value) if value else None  # parses text_time's text, ~40x faster than strptime


def _as_is(value: Any) -> Any:
    return value


def stamped(record: ClientRecord, now: datetime) -> ClientRecord:
    """The record with naive UTC times, `now` for each time it does not have."""
    return replace(record, created_at=naive_utc(record.created_at) or now,
                   updated_at=naive_utc(record.updated_at) or now)


def row_values(record: ClientRecord, write_time: Callable[[datetime | None], Any] = _as_is) -> tuple:
    """The record's values in COLUMNS order, times converted with `write_time`."""
    return (record.client_id, record.phone, record.jid, record.state, record.last_error,
            write_time(record.created_at), write_time(record.updated_at))


def record_from_row(row: Sequence[Any], read_time: Callable[[Any], datetime | None] = _as_is) -> ClientRecord:
    """The record of a row selected in COLUMNS order, times converted with `read_time`."""
    client_id, phone, jid, state, last_error, created_at, updated_at = row
    return ClientRecord(client_id=client_id, state=state, phone=phone, jid=jid, last_error=last_error,
                        created_at=read_time(created_at), updated_at=read_time(updated_at))
