"""EventLog: the one way code publishes an event. Stored first, then offered to delivery.

`publish` writes the event to the store before it returns. Publishers of every client hand their
event to one `events-writer` thread (a BatchThread) and wait: whatever queued while the previous
transaction was written goes in the next one (group commit), so a hundred busy clients cost a few
transactions a second instead of one per event. A client's events are queued in id order (the id
is made and queued under the client's lock) and that one thread decides and writes them in queue
order, so per client they are stored in id order while the lock is not held during the wait.

When the store cannot take a batch, its events wait in an in-memory backlog of their clients, in
order, and every later event of every client queues behind (so no publish waits for a dead
database, and no client's order is broken); the `events-backlog` thread writes the backlog as soon
as the store answers again. Nothing is dropped, except what is still held in memory when the
process stops (close() reports that count).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..batches import BatchThread
from ..store.client_rows import naive_utc, utcnow
from ..store.event_rows import NONE, PENDING, EventRow
from ..store.store_api import StoreError
from .event_model import OPT_IN_TYPES, Event, EventType, iso_ms, media_id_of

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_CAP = 0.5, 5.0
FLUSH_BATCH = 500
WRITE_WINDOW = 0.0  # seconds the first event of a batch waits for more (the previous write is the window)
WRITE_BATCH = 500


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_ms(value)
    return str(value)  # e.g. enums and other simple values a backend hands over


def event_body(event: Event) -> str:
    """The event's JSON exactly as stored and posted (ASCII, so no byte can trouble a store or a receiver)."""
    return json.dumps(event.to_json(), ensure_ascii=True, separators=(",", ":"), default=_json_default)


class EventLog:
    """Thread-safe publishing with an in-memory backlog for store outages.

    `notify(client_id)` is called (on the publishing thread) after an event that has a webhook to
    go to was stored, so delivery can start at once.
    """

    def __init__(self, store, directory, *, notify: Callable[[str], None] | None = None,
                 retry_first: float = RETRY_FIRST, retry_cap: float = RETRY_CAP,
                 write_window: float = WRITE_WINDOW, batched: bool | None = None):
        """batched: through the shared writer (group commit); by default unless the store commits in
        groups itself (the embedded one: there the hand-over measured only a thread switch dearer)."""
        self._store = store
        self._directory = directory
        self._notify = notify or (lambda client_id: None)
        self._retry_first, self._retry_cap = retry_first, retry_cap
        self._lock = threading.Lock()  # guards the backlog, the outage flag and the client locks
        self._client_locks: dict[str, threading.Lock] = {}
        self._backlog: dict[str, deque[tuple[Event, str]]] = {}
        self._outage = False
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer = BatchThread("events-writer", self._write, max_batch=WRITE_BATCH, window=write_window)
        self._batched = getattr(store, "kind", None) != "sqlite" if batched is None else batched
        self.transactions = 0  # add_events calls of the writer (tests and benchmarks)

    # ---- publishing ----------------------------------------------------------------------------
    def publish(self, client_id: str, type: EventType | str, data: Mapping[str, Any]) -> Event | None:
        """Make an event and store it (or hold it while the store is down); never raises for the store.
        An opt-in type (presence) no webhook of the client asks for is not even stored: None."""
        type = EventType(type)
        if type in OPT_IN_TYPES and not self._wanted(client_id, type):
            return None
        # The id is made and queued under the client's lock: per client, the writer gets ids in id
        # order and stores (or holds) them in that order, so delivery never sees a later event first.
        with self._client_lock(client_id):
            event = Event.new(client_id, type, dict(data))
            pending = _Pending(event, event_body(event))
            pending.row = self._row_unless_held(pending)
            if self._batched:
                self._writer.put(pending)
            else:
                self._write([pending])  # on this thread; the client's lock keeps the order
        pending.done.wait()  # the writer always answers; the store's own timeouts bound the wait
        if pending.error is not None:
            raise pending.error  # not a store outage (those are held): what the store raised
        if pending.stored and pending.row.delivery == PENDING:
            self._notify(client_id)
        return event

    def _wanted(self, client_id: str, type: EventType) -> bool:
        try:
            return self._directory.applies(client_id, type)
        except StoreError:
            return True  # the store decides later, as for every other event

    def held(self) -> int:
        """How many events wait in memory for the store."""
        with self._lock:
            return sum(len(q) for q in self._backlog.values())

    def forget(self, client_id: str) -> None:
        """Drop a deleted client's held events and its lock."""
        with self._lock:
            self._backlog.pop(client_id, None)
            self._client_locks.pop(client_id, None)

    def _client_lock(self, client_id: str) -> threading.Lock:
        with self._lock:
            return self._client_locks.setdefault(client_id, threading.Lock())

    def _row(self, event: Event, body: str) -> EventRow:
        """The stored row; pending if a webhook applies now, else none."""
        pending = self._directory.applies(event.client_id, event.type)
        now = utcnow() if pending else None
        return EventRow(event.id, event.client_id, event.type.value, body, PENDING if pending else NONE,
                        created_at=naive_utc(event.timestamp), queued_at=now, next_at=now,
                        media_id=media_id_of(event.data))

    def _row_unless_held(self, pending: "_Pending") -> EventRow | None:
        """The row, or None when the event will be held: during an outage the webhook lookup is skipped
        (it may need the store), and a lookup the store fails starts one."""
        if self._outage or pending.event.client_id in self._backlog:  # a hint; the writer decides
            return None
        try:
            return self._row(pending.event, pending.body)
        except StoreError as exc:
            pending.error = exc  # the writer holds it and starts the outage
            return None

    # ---- the writer thread ---------------------------------------------------------------------
    def _write(self, batch: list["_Pending"]) -> None:
        """Store one batch (BatchThread's handler); every publisher of it is answered."""
        try:
            self._write_batch(batch)
        except Exception as exc:  # not a store error (those are held): each publisher raises it
            log.exception("writing %d events failed", len(batch))
            for pending in batch:
                pending.error = None if pending.done.is_set() else exc
        finally:
            for pending in batch:
                pending.done.set()

    def _write_batch(self, batch: list["_Pending"]) -> None:
        writing = self._hold_behind(batch)
        if not writing:
            return
        try:
            self.transactions += 1
            self._store.add_events([p.row for p in writing])
        except StoreError as exc:
            self._hold(writing, exc)
            return
        for pending in writing:
            pending.stored = True

    def _hold_behind(self, batch: list["_Pending"]) -> list["_Pending"]:
        """Hold (in queue order) the events that must wait behind a backlog; return the rest. A failed
        webhook lookup starts the outage at once: the events queued after it are held too."""
        writing, failed, first = [], None, False
        with self._lock:
            for pending in batch:
                if pending.row is not None and not (self._outage or pending.event.client_id in self._backlog):
                    writing.append(pending)
                    continue
                self._backlog.setdefault(pending.event.client_id, deque()).append((pending.event, pending.body))
                if pending.error is not None:
                    failed, first, self._outage = pending.error, first or not self._outage, True
                pending.error = None
                pending.done.set()
        if first:
            log.warning("the store cannot take events (%s); holding them in memory until it answers", failed)
        if len(writing) < len(batch):
            self._wake.set()
        return writing

    def _hold(self, items: list["_Pending"], exc: StoreError) -> None:
        """Hold events the store could not take, in order, and start the outage."""
        with self._lock:
            for pending in items:
                self._backlog.setdefault(pending.event.client_id, deque()).append((pending.event, pending.body))
            first, self._outage = not self._outage, True
        if first:
            log.warning("the store cannot take events (%s); holding them in memory until it answers", exc)
        self._wake.set()

    # ---- the backlog thread --------------------------------------------------------------------
    def start(self) -> None:
        """Start the `events-backlog` thread, which writes held events once the store answers."""
        self._thread = threading.Thread(target=self._run, name="events-backlog", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> int:
        """Stop the thread, try the backlog once more; return (and log) how many events stay unstored."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.held():
            self._flush_safely()
        lost = self.held()
        if lost:
            log.error("%d events could not be stored before the stop and are lost", lost)
        return lost

    def _run(self) -> None:
        delay = self._retry_first
        while not self._stopped.is_set():
            if not self.held():
                self._wake.wait()
                self._wake.clear()
                continue
            if self._flush_safely():
                delay = self._retry_first
                continue
            self._stopped.wait(delay)  # backoff; new events only join the backlog meanwhile
            delay = min(self._retry_cap, delay * 2)

    def _flush_safely(self) -> bool:
        try:
            return self._flush_batch()
        except StoreError as exc:
            log.debug("held events not written yet: %s", exc)
        except Exception:  # never let the backlog thread die; it tries again after the backoff
            log.exception("writing held events failed")
        return False

    def _flush_batch(self) -> bool:
        """Write up to FLUSH_BATCH held events, each client's in order; True if they were stored."""
        with self._lock:
            taken = [(c, list(q)[:FLUSH_BATCH]) for c, q in self._backlog.items()]
        batch, left = [], FLUSH_BATCH
        for client_id, items in taken:
            if left <= 0:
                break
            batch.append((client_id, items[:left]))
            left -= len(batch[-1][1])
        rows = [self._row(event, body) for _, items in batch for event, body in items]
        self._store.add_events(rows)
        done = self._drop_written(batch)
        for client_id in {r.client_id for r in rows if r.delivery == PENDING}:
            self._notify(client_id)
        if done:
            log.warning("the store answers again: all held events are stored")
        return True

    def _drop_written(self, batch: list[tuple[str, list]]) -> bool:
        """Remove what was written from the front of each queue; True when nothing is held any more."""
        with self._lock:
            for client_id, items in batch:
                queue = self._backlog.get(client_id)
                for _ in range(min(len(items), len(queue) if queue else 0)):
                    queue.popleft()
                if queue is not None and not queue:
                    del self._backlog[client_id]
            if not self._backlog:
                self._outage = False
                return True
        return False


class _Pending:
    """One published event on its way through the writer."""

    __slots__ = ("event", "body", "row", "done", "stored", "error")

    def __init__(self, event: Event, body: str):
        self.event, self.body = event, body
        self.row: EventRow | None = None
        self.done = threading.Event()
        self.stored = False
        self.error: Exception | None = None
