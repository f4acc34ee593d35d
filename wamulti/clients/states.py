"""A client's states, and what the API shows of a client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class State(StrEnum):
    """Members equal their names as strings, so stored rows, JSON and logs read as before."""

    CONNECTING = "CONNECTING"
    PAIRING = "PAIRING"
    SYNCING = "SYNCING"
    READY = "READY"
    CLOSED = "CLOSED"


CONNECTING = State.CONNECTING
PAIRING = State.PAIRING
SYNCING = State.SYNCING
READY = State.READY
CLOSED = State.CLOSED


@dataclass(frozen=True)
class ClientStatus:
    """What the API shows of a client."""

    client_id: str
    state: str
    pairing_code: str | None
    phone: str | None
    jid: str | None
    last_error: str | None
    updated_at: datetime | None
    retry_at: datetime | None = None  # while CONNECTING after a temporary ban: when it reconnects (aware UTC)
    pairing_expires_at: datetime | None = None  # when the shown code and QR stop working
    snapshot_lag: float = 0.0  # seconds the stored snapshot has been behind the local session file
    last_snapshot_at: datetime | None = None  # when the store last got (or matched) the session file
    instance: str | None = None  # CLUSTER=on: the instance running it (None: one instance, or no owner now)
