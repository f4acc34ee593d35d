"""Courier: delivers one claimed event and records what happened (runs on a delivery thread)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from ..store.outbox import NONE, AttemptResult, EventRow
from ..store.rows import utcnow
from .model import DeliveryState
from .retry import Outcome, RetryPolicy

log = logging.getLogger(__name__)


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
    """Posts an event to the webhook that applies and writes the attempt, while holding the client's lane."""

    def __init__(self, store, directory, sender, policy: RetryPolicy, lease_seconds: float,
                 on_retry: Callable[[], None] = lambda: None, stopping: Callable[[], bool] = lambda: False):
        self._store = store
        self._directory = directory
        self._sender = sender
        self._policy = policy
        self._lease = lease_seconds
        self._on_retry = on_retry
        self._stopping = stopping

    def deliver(self, row: EventRow, token: str) -> bool:
        """Deliver `row`; True if the outcome was recorded and the lane is still held."""
        hook = self._directory.for_client(row.client_id)
        if hook is None or not hook.applies_to(row.type):
            result = AttemptResult(row.event_id, NONE, attempted=False, last_error="no webhook applies",
                                   finished_at=utcnow())
            return self._record(row, token, result)
        outcome = self._sender.post(hook.url, hook.secret, row.event_id, row.body)
        if self._stopping():
            return False  # cut off by the stop: the event stays pending as it was, for the next start
        result = self._result(row, outcome)
        self._log(row, result, where(hook.url))
        return self._record(row, token, result)

    def _result(self, row: EventRow, outcome: Outcome) -> AttemptResult:
        now = utcnow()
        attempts = row.attempts + 1
        decision = self._policy.decide(outcome, attempts, row.queued_at or row.created_at or now, now)
        finished = None if decision.delivery == DeliveryState.PENDING else now
        return AttemptResult(row.event_id, decision.delivery.value, True, decision.next_at, outcome.status,
                             error_text(outcome), finished)

    def _record(self, row: EventRow, token: str, result: AttemptResult) -> bool:
        held = self._store.record_attempt(row.client_id, token, result, self._lease)
        if not held:
            log.warning("[%s] lost its delivery claim on %s (lease ran out); another instance goes on",
                        row.client_id, row.event_id)
        elif result.next_at is not None:
            self._on_retry()
        return held

    @staticmethod
    def _log(row: EventRow, result: AttemptResult, host: str) -> None:
        attempt = row.attempts + 1
        if result.delivery == DeliveryState.DELIVERED:
            log.debug("[%s] %s delivered to %s (attempt %d)", row.client_id, row.event_id, host, attempt)
        elif result.delivery == DeliveryState.FAILED:
            log.error("[%s] %s to %s failed for good after %d attempts: %s", row.client_id, row.event_id, host,
                      attempt, result.last_error)
        else:
            wait = (result.next_at - utcnow()).total_seconds()
            log.warning("[%s] %s to %s: %s (attempt %d); next try in %.1fs; the client's later events wait",
                        row.client_id, row.event_id, host, result.last_error, attempt, max(wait, 0.0))
