"""Courier: posts a client's claimed events in order and says what became of each (on a delivery thread)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from ..store.client_rows import utcnow
from ..store.event_rows import NONE, AttemptResult, EventRow
from .event_model import DeliveryState
from .retry import Outcome, RetryPolicy

log = logging.getLogger(__name__)

RECORD_EVERY = 1.0  # seconds: outcomes are written at least this often (and the lane's lease renewed)


def where(url: str) -> str:
    """host[:port] of a URL, for logs (the path or credentials may be secret)."""
    parts = urlsplit(url)
    return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "?"


def error_text(outcome: Outcome) -> str | None:
    """What the event shows as its last error."""
    if outcome.ok:
        return None
    return outcome.error or f"HTTP {outcome.status}"


class Courier:
    """Posts events to the webhook that applies; the caller holds the client's lane and records the results."""

    def __init__(self, directory, sender, policy: RetryPolicy, *, record_every: float = RECORD_EVERY,
                 stopping: Callable[[], bool] = lambda: False):
        self._directory = directory
        self._sender = sender
        self._policy = policy
        self._record_every = record_every
        self._stopping = stopping

    def post_in_order(self, rows: Sequence[EventRow]) -> tuple[list[AttemptResult], bool]:
        """Post `rows` (one client's, oldest first) one after the other.

        Returns the outcomes and whether the client is blocked: an event waits for a retry (its later
        events must wait too) or the service is stopping. Stops early, unblocked, once RECORD_EVERY has
        passed, so the outcomes get written and the lease renewed.
        """
        results: list[AttemptResult] = []
        started = time.monotonic()
        for row in rows:
            if results and time.monotonic() - started >= self._record_every:
                break
            result = self._attempt(row)
            if result is None:
                return results, True
            results.append(result)
            if result.delivery == DeliveryState.PENDING:
                return results, True
        return results, False

    def _attempt(self, row: EventRow) -> AttemptResult | None:
        """One event's outcome; None when the stop cut the post off (the event stays as it was)."""
        hook = self._directory.for_client(row.client_id)
        if hook is None or not hook.applies_to(row.type):
            return AttemptResult(row.event_id, NONE, attempted=False, last_error="no webhook applies",
                                 finished_at=utcnow())
        trusted = hook.client_id is None  # the operator's global webhook is not subject to the policy
        outcome = self._sender.post(hook.url, hook.secret, row.event_id, row.body, trusted=trusted)
        if self._stopping():
            return None
        result = self._result(row, outcome)
        self._log(row, result, where(hook.url))
        return result

    def _result(self, row: EventRow, outcome: Outcome) -> AttemptResult:
        now = utcnow()
        decision = self._policy.decide(outcome, row.attempts + 1, row.queued_at or row.created_at or now, now)
        finished = None if decision.delivery == DeliveryState.PENDING else now
        return AttemptResult(row.event_id, decision.delivery.value, True, decision.next_at, outcome.status,
                             error_text(outcome), finished)

    @staticmethod
    def _log(row: EventRow, result: AttemptResult, host: str) -> None:
        """Once per event and round: a warning at its first failure, an error when it is given up."""
        attempt = row.attempts + 1
        if result.delivery == DeliveryState.DELIVERED:
            log.debug("[%s] %s delivered to %s (attempt %d)", row.client_id, row.event_id, host, attempt)
        elif result.delivery == DeliveryState.FAILED:
            log.error("[%s] %s to %s failed for good after %d attempts: %s", row.client_id, row.event_id, host,
                      attempt, result.last_error)
        else:
            wait = max((result.next_at - utcnow()).total_seconds(), 0.0)
            level = logging.WARNING if attempt == 1 else logging.DEBUG  # the retries of a known failure are noise
            log.log(level, "[%s] %s to %s: %s (attempt %d); next try in %.1fs; the client's later events wait",
                    row.client_id, row.event_id, host, result.last_error, attempt, wait)
