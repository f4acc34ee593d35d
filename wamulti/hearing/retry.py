"""When to try a webhook again: exponential backoff with jitter, Retry-After, and giving up.

Pure: given an attempt's outcome and the event's history, `RetryPolicy.decide` says delivered,
failed, or pending again at a time. The clock is a parameter so tests need no sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from .event_model import DeliveryState

FIRST_DELAY, MAX_DELAY, GIVE_UP_AFTER = 1.0, 3600.0, 24 * 3600.0
JITTER = 0.2  # each delay is spread over +-20 % so many failing clients do not retry in step
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class Outcome:
    """What one POST got: an HTTP status, or an error before any status; Retry-After in seconds."""

    status: int | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Decision:
    """The event's state after an attempt; `next_at` (naive UTC) only when pending again."""

    delivery: DeliveryState
    next_at: datetime | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff from `first` doubling to `cap` seconds, jittered; given up `give_up` seconds after queuing."""

    first: float = FIRST_DELAY
    cap: float = MAX_DELAY
    give_up: float = GIVE_UP_AFTER
    jitter: float = JITTER
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1 for the first)."""
        base = min(self.cap, self.first * 2 ** min(max(attempts - 1, 0), 64))
        return min(self.cap, base * self.rng.uniform(1 - self.jitter, 1 + self.jitter))

    def decide(self, outcome: Outcome, attempts: int, queued_at: datetime, now: datetime) -> Decision:
        """The state after attempt number `attempts` of a round queued at `queued_at` (naive UTC times)."""
        if outcome.ok:
            return Decision(DeliveryState.DELIVERED)
        status = outcome.status
        if status is not None and 400 <= status < 500 and status not in RETRYABLE_4XX:
            return Decision(DeliveryState.FAILED)  # the receiver refuses this event for good
        if (now - queued_at).total_seconds() >= self.give_up:
            return Decision(DeliveryState.FAILED)
        wait = self.delay(attempts)
        if outcome.retry_after is not None:
            wait = min(max(outcome.retry_after, self.first), self.give_up)
        return Decision(DeliveryState.PENDING, now + timedelta(seconds=wait))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())
