"""The event vocabulary: types, the event itself, its ids and what the outbox knows of its delivery.

Pure: the standard library only (and wamulti.randomness, which uses nothing else), so settings and the
API can use it without pulling in the outbox.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from ..randomness import random_bytes

ID_PREFIX = "evt_"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TIME_CHARS, RANDOM_CHARS = 10, 16
RANDOM_BITS = 80


class EventType(StrEnum):
    """What happened; a webhook subscribes to some of these (or to all with '*')."""

    MESSAGE = "message"
    MESSAGE_ACK = "message.ack"
    MESSAGE_MEDIA = "message.media"  # an incoming attachment's download ended (stored, failed, too_large)
    CLIENT_STATE = "client.state"
    MESSAGE_REACTION = "message.reaction"
    MESSAGE_EDITED = "message.edited"
    MESSAGE_REVOKED = "message.revoked"
    PRESENCE = "presence"
    CALL = "call"
    GROUP_JOINED = "group.joined"
    GROUP_LEFT = "group.left"
    GROUP_PARTICIPANTS = "group.participants"
    GROUP_UPDATED = "group.updated"


# Delivered only to webhooks that name them: '*' leaves them out (presence: several per contact a minute).
OPT_IN_TYPES = frozenset({EventType.PRESENCE})


class DeliveryState(StrEnum):
    """Where an event stands with its webhook."""

    PENDING = "pending"  # to be delivered (or being retried)
    DELIVERED = "delivered"  # a 2xx answer was received
    FAILED = "failed"  # given up: refused with a final 4xx, or still failing after the give-up time
    NONE = "none"  # no webhook applied when it was stored


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(CROCKFORD[digit])
    return "".join(reversed(chars))


class _MonotonicUlid:
    """ULIDs that strictly increase within the process, also within one millisecond."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last_ms = 0
        self._last_random = 0

    def next(self) -> tuple[int, str]:
        """(milliseconds since the epoch that the id carries, the 26-character ULID)."""
        now_ms = time.time_ns() // 1_000_000
        # drawn before the lock: a system call under it let a thousand publishers queue behind each
        # holder's wait for the GIL (a start with 1,000 clients); now one call per ~400 ids
        fresh = int.from_bytes(random_bytes(10), "big") >> 1
        with self._lock:
            if now_ms > self._last_ms:
                self._last_ms, self._last_random = now_ms, fresh
            else:  # same millisecond, or the clock stepped back: count on from the last id
                self._last_random += 1
                if self._last_random >> RANDOM_BITS:
                    self._last_ms, self._last_random = self._last_ms + 1, 0
            ms, rnd = self._last_ms, self._last_random
        return ms, _base32(ms, TIME_CHARS) + _base32(rnd, RANDOM_CHARS)


_ULIDS = _MonotonicUlid()


def _next_id() -> tuple[int, str]:
    ms, ulid = _ULIDS.next()
    return ms, ID_PREFIX + ulid


def new_event_id() -> str:
    """'evt_' + a ULID; each id is greater than every id made before it in this process."""
    return _next_id()[1]


def event_id_floor(moment: datetime) -> str:
    """The smallest event id that could have been made at `moment` (ids before it are older)."""
    ms = int(moment.replace(tzinfo=moment.tzinfo or timezone.utc).timestamp() * 1000)
    return ID_PREFIX + _base32(max(ms, 0), TIME_CHARS) + "0" * RANDOM_CHARS


def media_id_of(data: dict[str, Any]) -> str | None:
    """The id of the media an event's data carries (`message` and `message.media` events), else None."""
    media = data.get("media")
    media_id = media.get("id") if isinstance(media, dict) else None
    return media_id if isinstance(media_id, str) else None


def iso_ms(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and 'Z' (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """The aware UTC datetime of an ISO 8601 string such as iso_ms writes."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(frozen=True)
class Event:
    """One thing a client heard; `timestamp` is aware UTC, `data` depends on the type (see EVENTS.md)."""

    id: str
    type: EventType
    client_id: str
    timestamp: datetime
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, client_id: str, type: EventType | str, data: dict[str, Any]) -> "Event":
        """A new event with a fresh id; its timestamp is the millisecond the id carries."""
        ms, event_id = _next_id()
        moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
        return cls(event_id, EventType(type), client_id, moment, dict(data))

    def to_json(self) -> dict[str, Any]:
        """The wire shape: what a webhook receives and what the API lists."""
        return {"id": self.id, "type": str(self.type), "clientId": self.client_id,
                "timestamp": iso_ms(self.timestamp), "data": self.data}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "Event":
        """The event of a to_json() dict."""
        return cls(body["id"], EventType(body["type"]), body["clientId"], parse_iso(body["timestamp"]),
                   body.get("data") or {})


@dataclass(frozen=True)
class EventStatus:
    """An event as the outbox holds it: the event and how its delivery stands."""

    event: Event
    delivery: DeliveryState
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
