"""Delivery: the threads that post stored events to their webhooks.

- `events-dispatch` finds clients whose oldest pending event is due and whose lane no instance
  holds, and queues them; it waits on an Event until the next due time (or POLL_SECONDS, to see
  other instances' events and expired claims), and prunes old events now and then.
- `events-post-N` threads each take one client at a time, hold its lane (a claim with a lease in
  the store) and post its due events oldest first, one at a time. They claim up to BATCH events in
  one transaction and write their outcomes (claiming the next ones) in one transaction, at least
  every RECORD_EVERY second. A receiver that hangs holds only its own client's thread, for at most
  the send timeout (the watchdog cuts it off).

A freshly stored event is offered straight to the queue (EventLog's notify), so it does not wait
for a poll.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta

from ..store.client_rows import utcnow
from ..store.store_api import StoreError
from .courier import Courier
from .delivery_lanes import WorkQueue
from .event_model import event_id_floor
from .retry import RetryPolicy

log = logging.getLogger(__name__)

THREADS = 8
LEASE_SECONDS = 30.0  # well above the send timeout: a claim only runs out when its holder is gone
POLL_SECONDS = 2.0
BATCH = 20  # events claimed (and their outcomes written) in one transaction
BURST = 200  # events one thread delivers for a client before it lets the next client have a turn
RETENTION_HOURS = 72
PRUNE_EVERY = 600.0
STORE_RETRY = 2.0


class Delivery:
    """Start with start(); stop(timeout) ends every thread (in-flight posts are cut off and stay pending)."""

    def __init__(self, store, directory, sender, policy: RetryPolicy, *, threads: int = THREADS,
                 lease_seconds: float = LEASE_SECONDS, poll_seconds: float = POLL_SECONDS, burst: int = BURST,
                 retention_hours: float = RETENTION_HOURS, prune_every: float = PRUNE_EVERY, on_stop=lambda: None):
        self._store = store
        self._courier = Courier(directory, sender, policy, stopping=lambda: self._stop.is_set())
        self._threads_wanted = threads
        self._lease = lease_seconds
        self._poll = poll_seconds
        self._burst = burst
        self._retention = timedelta(hours=retention_hours)
        self._prune_every = prune_every
        self._on_stop = on_stop
        self._queue = WorkQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._instance = uuid.uuid4().hex[:16]
        self._next_prune = 0.0

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def offer(self, client_id: str) -> None:
        """A client has a new event to deliver (any thread)."""
        self._queue.offer(client_id)

    def wake(self) -> None:
        """Have the dispatcher look at due times again (a retry was scheduled)."""
        self._wake.set()

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._dispatch_loop, name="events-dispatch", daemon=True)]
        self._threads += [threading.Thread(target=self._post_loop, name=f"events-post-{n}", daemon=True)
                          for n in range(1, self._threads_wanted + 1)]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> list[str]:
        """Stop and join every thread within timeout; return the names of those still running."""
        self._stop.set()
        self._queue.close()
        self._wake.set()
        self._on_stop()  # cuts off posts in flight
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        running = [t.name for t in self._threads if t.is_alive()]
        if running:
            log.warning("delivery threads still running after %gs: %s", timeout, ", ".join(running))
        return running

    # ---- events-dispatch -------------------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self._offer_due()
                self._prune_when_due()
            except StoreError as exc:
                log.warning("delivery cannot read the store: %s; trying again in %gs", exc, STORE_RETRY)
                wait = STORE_RETRY
            except Exception:  # the dispatcher must not die; it looks again after a pause
                log.exception("delivery dispatch failed")
                wait = STORE_RETRY
            self._wake.wait(wait)

    def _offer_due(self) -> float:
        """Queue the clients whose head event is due; return seconds until the next one falls due."""
        now, wait = utcnow(), self._poll
        for client_id, next_at in self._store.pending_heads():
            left = (next_at - now).total_seconds()
            if left <= 0:
                self._queue.offer(client_id)
            else:
                wait = min(wait, left)
        return wait

    def _prune_when_due(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self._prune_every
        pruned = self._store.prune_events(event_id_floor(utcnow() - self._retention))
        if pruned:
            log.info("pruned %d delivered, failed or undelivered events older than %s", pruned, self._retention)

    # ---- events-post-N -----------------------------------------------------------------------------
    def _post_loop(self) -> None:
        while True:
            client_id = self._queue.take()
            if client_id is None:
                return
            more = False
            try:
                more = self._drain(client_id)
            except StoreError as exc:
                log.warning("[%s] delivery paused: the store failed (%s); trying again shortly", client_id, exc)
            except Exception:
                log.exception("[%s] delivery failed unexpectedly", client_id)
            finally:
                self._queue.done(client_id, again=more)

    def _drain(self, client_id: str) -> bool:
        """Deliver the client's due events in order under one lane claim; True if it stopped for fairness."""
        token = f"{self._instance}-{uuid.uuid4().hex[:16]}"
        rows = self._store.claim_events(client_id, token, self._lease, BATCH)
        done, blocked = 0, False
        try:
            while rows:
                results, blocked = self._courier.post_in_order(rows)
                done += len(results)
                more = not blocked and not self._stop.is_set() and done < self._burst
                rows = self._store.record_attempts(client_id, token, results, self._lease, BATCH if more else 0)
                if rows is None:
                    log.warning("[%s] lost its delivery claim (lease ran out); another instance goes on", client_id)
                    return False
                if not more:
                    self._release(client_id, token)
                    return not blocked and not self._stop.is_set()
            return False  # nothing (more) due: the store did not keep the lane
        except BaseException:
            self._release(client_id, token)  # if the store is down too, the lease runs out on its own
            raise
        finally:
            if blocked:
                self.wake()  # a retry falls due later: the dispatcher plans for it now that the lane is free

    def _release(self, client_id: str, token: str) -> None:
        try:
            self._store.release_lane(client_id, token)
        except StoreError as exc:  # the lease runs out on its own
            log.warning("[%s] could not release its delivery claim: %s", client_id, exc)
