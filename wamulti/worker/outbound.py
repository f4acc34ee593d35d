"""Dispatcher: one client's outbound queue, sent in order per recipient by the client's own sender.

The store holds the queue (store/outbound.py); the dispatcher keeps the client's open rows in
memory too, per recipient in order of acceptance, and runs a thread `wa-<clientId>-queue` while
there is anything to send. While the client is READY it hands the first row of every recipient
that has no send under way to the Sender (at most SEND_THREADS at once, and no faster than the
rate cap); a recipient's next row goes only after the one before it ended, so each chat gets its
messages in order.

The first time the queue is loaded in this process (at start-up: read with every returning client's
rows at once, wamulti/worker/queue_load.py), a row found `sending` that this instance took
(or nobody recorded) belongs to this instance's earlier life, which died while sending it: whether
it went out is unknown, and sending it again could send it twice, so it becomes `failed` with
reason `outcome_unknown` (and a `failed` ack says so). Rows another instance took are its own
(QueueUpkeep fails them once they are older than any send). Rows older than the expiry are
`failed` with reason `expired` instead of being sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ..backends.base import BackendSession
from ..errors import DomainError
from ..store.base import SessionStore, StoreError
from ..store.outbound import FAILED, IDEMPOTENCY_HOURS, QUEUED, SENDING, OutboundRow
from ..store.rows import utcnow
from .hearing import Hearing
from .outcome import deleted_error, expiry_error, outcome_change
from .ratecap import RateCap
from .sender import SEND_THREADS, Outcome, Sender, new_message_id
from .waiters import Waiters

log = logging.getLogger(__name__)

IDLE_WAIT = 1.0  # seconds between looks at a client that is not READY (or a store that was down)
LINGER = 2.0  # seconds an idle queue thread waits for new work before it ends
EXPIRE_EVERY = 1.0  # seconds between looks for expired rows (not every pass: a pass follows every send)
FRESH_CLAIM = 60.0  # seconds within which a row claimed with the send before it is sent without a look
OUTCOME_UNKNOWN, EXPIRED = "outcome_unknown", "expired"


@dataclass(frozen=True)
class SendOptions:
    """How a client's queue behaves (the server passes its settings; these are the settings' defaults,
    except the rate cap: 0 means none, which the worker tests use)."""

    wait: float = 10.0  # SEND_WAIT: how long a request waits for its send's outcome
    expiry: float = 3600.0  # SEND_EXPIRY: a row not sent by then fails with reason `expired`
    queue_max: int = 1000  # SEND_QUEUE_MAX: open rows per client
    rate_per_minute: int = 0  # SEND_RATE_PER_MINUTE: sends started per minute per client, 0 = no cap
    owner: str = ""  # this process's instance id (instance.py), recorded in the rows it takes


def send_options(settings, owner: str = "") -> SendOptions:
    """The queue's options from the server's settings."""
    return SendOptions(wait=settings.send_wait, expiry=settings.send_expiry, queue_max=settings.send_queue_max,
                       rate_per_minute=settings.send_rate_per_minute, owner=owner)


Ready = Callable[[], tuple[BackendSession, Sender] | None]
"""The client's session and sender while it is READY, else None."""


class Dispatcher:
    """Any thread may accept(); the queue thread dispatches; send threads call take/record/release."""

    def __init__(self, client_id: str, store: SessionStore, waiters: Waiters, hearing: Hearing,
                 options: SendOptions, ready: Ready):
        self.client_id = client_id
        self._store, self._waiters, self._hearing = store, waiters, hearing
        self._options, self._ready = options, ready
        self._cap = RateCap(options.rate_per_minute)
        self._cond = threading.Condition()  # guards everything below
        self._pending: dict[str, deque[OutboundRow]] = {}  # recipient -> rows in order
        self._known: set[str] = set()  # ids of rows pending or in flight
        self._busy: dict[str, str] = {}  # recipient -> id of its send under way
        self._claimed: dict[str, float] = {}  # ids marked sending with the send before them -> when
        self._retry: set[str] = set()  # ids the store did not let a send thread take: queued again
        self._loaded = False  # the store's open rows were read in this process
        self._held = False  # the restore reads them with every other client's: the first load waits
        self._given: tuple[list[OutboundRow], list[OutboundRow]] | None = None  # what it read
        self._next_expiry = 0.0  # monotonic time of the next look for expired rows
        self._running = False  # start() was called and stop() not since
        self._deleted = False  # forget() was called: the client and its rows are gone
        self._thread: threading.Thread | None = None

    # ---- any thread ----------------------------------------------------------------------------
    def accept(self, recipient: str, text: str, idem: tuple[str, str] | None = None,
               wait: bool = False) -> tuple[OutboundRow, bool]:
        """Store a new queued row (its id given here) and queue it: (row, True); or, for an idempotency
        key already held, (that row, False). With `wait`, register a waiter before the send can end."""
        key, digest = idem or (None, None)
        row = OutboundRow(new_message_id(), self.client_id, recipient, text, idem_key=key, idem_hash=digest)
        if wait:
            self._waiters.register(row.message_id)
        try:
            stored, created = self._store.enqueue_send(row, self._options.queue_max, self._idem_since())
        except BaseException:
            if wait:
                self._waiters.wait(row.message_id, 0)  # ends the registration
            raise
        if not created and wait:
            self._waiters.wait(row.message_id, 0)
            self._waiters.register(stored.message_id)
        if created:
            self._add([stored])
        return stored, created

    def start(self) -> None:
        """The client runs: send what is queued whenever it is READY."""
        with self._cond:
            self._running = True
            self._ensure_thread()

    def stop(self) -> None:
        """The client stops: the queue thread ends (sends under way finish); rows stay queued."""
        with self._cond:
            self._running = False
            self._cond.notify_all()

    def join(self, timeout: float) -> bool:
        """Wait for the queue thread to end (after stop()); True if it did."""
        with self._cond:
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def forget(self) -> None:
        """The client was deleted (its rows with it): requests waiting for a send not yet begun hear so."""
        with self._cond:
            self._running, self._deleted = False, True
            unsent = [row.message_id for rows in self._pending.values() for row in rows]
            self._pending.clear()
            self._known.clear()
            self._claimed.clear()
            self._cond.notify_all()
        for message_id in unsent:
            self._waiters.tell(message_id, deleted_error(self.client_id))

    def hold_load(self) -> bool:
        """Start-up: the first load waits for the rows read for many clients at once (give_load);
        False if this queue has loaded (or is loading) its rows itself."""
        with self._cond:
            self._held = self._held or (not self._loaded and self._thread is None)
            return self._held

    def give_load(self, loaded: tuple[list[OutboundRow], list[OutboundRow]] | None) -> None:
        """The rows read for this client (failed as outcome_unknown, open), or None: it reads its own."""
        with self._cond:
            self._held, self._given = False, loaded
            self._cond.notify_all()

    def _idem_since(self):
        return utcnow() - timedelta(hours=IDEMPOTENCY_HOURS)

    def _add(self, rows: list[OutboundRow]) -> None:
        with self._cond:
            startable = False  # a row that may go at once: the queue thread must look now
            for row in rows:
                if row.message_id not in self._known:
                    self._known.add(row.message_id)
                    queue = self._pending.setdefault(row.recipient, deque())
                    startable |= not queue and row.recipient not in self._busy
                    queue.append(row)
            self._ensure_thread()
            if startable:  # else the send under way for its recipient wakes the thread as it ends
                self._cond.notify_all()

    def _ensure_thread(self) -> None:
        """Under the lock: a queue thread runs while the client runs and has work (or must load)."""
        if self._thread is None and self._running and (self._known or not self._loaded):
            self._thread = threading.Thread(target=self._main, name=f"wa-{self.client_id}-queue", daemon=True)
            self._thread.start()

    # ---- the send threads (Lane) ---------------------------------------------------------------
    def take(self, row: OutboundRow) -> bool:
        with self._cond:
            claimed_at = self._claimed.pop(row.message_id, None)
        try:
            if claimed_at is not None:  # marked sending already, with the send before it
                # handed over at once, as usual; one that waited (its run ended) is checked: upkeep
                # may have failed it as outcome_unknown meanwhile
                fresh = time.monotonic() - claimed_at < FRESH_CLAIM
                return fresh or self._still_sending(row)
            if self._store.claim_send(row.message_id, self._options.owner):
                return True
        except StoreError as exc:  # not taken: it goes back to the head of its recipient's queue
            log.warning("[%s] send %s not started (store: %s)", self.client_id, row.message_id, exc)
            with self._cond:
                self._retry.add(row.message_id)
                if claimed_at is not None:
                    self._claimed[row.message_id] = claimed_at
        return False  # else the row is no longer queued (expired meanwhile): not ours to send

    def _still_sending(self, row: OutboundRow) -> bool:
        stored = self._store.get_send(row.message_id)
        return stored is not None and stored.state == SENDING

    def record(self, row: OutboundRow, outcome: Outcome, sender: Sender) -> tuple[bool, OutboundRow | None]:
        """Store the outcome and, in the same write, mark the chat's next row sending, which the
        sender's thread then sends next: a chat's sends follow each other without a pass of the queue
        thread or a hand-over in between. With no next row yet, the chat is free from here on."""
        ready, following = self._ready(), None
        if ready is not None and ready[1] is sender:  # else this thread's run has ended
            following = self._following(row)
        try:
            claimed = self._store.finish_send(row.message_id, outcome_change(outcome),
                                              following.message_id if following else None, self._options.owner)
        except StoreError as exc:  # the row stays `sending`: after a restart it reads outcome_unknown
            log.warning("[%s] outcome of send %s not stored: %s", self.client_id, row.message_id, exc)
            claimed = False
        if following is not None:
            following = self._go_on(following, claimed, sender)
        else:
            self._free(row)
        if self._deleted and isinstance(outcome, DomainError):  # it failed as the delete ended the session
            outcome = deleted_error(self.client_id)
        return self._waiters.tell(row.message_id, outcome), following

    def _free(self, row: OutboundRow) -> None:
        """The outcome is stored: the chat may go on (before this thread publishes the acks)."""
        with self._cond:
            if self._busy.get(row.recipient) == row.message_id:
                del self._busy[row.recipient]
                if self._pending:  # this chat's next row, or another's that waited for a free send thread
                    self._cond.notify_all()

    def _following(self, row: OutboundRow) -> OutboundRow | None:
        """The chat's next row if it may go now (running, under the rate cap, not expired), taken off."""
        cutoff = utcnow() - timedelta(seconds=self._options.expiry)
        with self._cond:
            queue = self._pending.get(row.recipient)
            if not self._running or not queue or self._cap.wait_seconds() > 0 or \
                    (queue[0].created_at and queue[0].created_at < cutoff):
                return None
            self._cap.take()
            following = queue.popleft()
            if not queue:
                del self._pending[row.recipient]
            self._busy[row.recipient] = following.message_id
            return following

    def _go_on(self, following: OutboundRow, claimed: bool, sender: Sender) -> OutboundRow | None:
        """The claimed next row, to be sent next by the sender's thread; or None: queued again."""
        if claimed:
            with self._cond:
                self._claimed[following.message_id] = time.monotonic()
            if sender.open:
                return following
        self._requeue(following)
        return None

    def release(self, row: OutboundRow) -> None:
        with self._cond:
            if freed := self._busy.get(row.recipient) == row.message_id:
                del self._busy[row.recipient]
            if retried := row.message_id in self._retry:
                self._retry.discard(row.message_id)
                self._pending.setdefault(row.recipient, deque()).appendleft(row)
            else:
                self._known.discard(row.message_id)
            if retried or (freed and self._pending):  # else the queue thread has nothing new to do
                self._cond.notify_all()

    # ---- the queue thread ----------------------------------------------------------------------
    def _main(self) -> None:
        failed = False
        try:
            while self._load() and self._pass():
                pass
        except Exception:  # a bug must not kill sending silently: log it; the next accept() restarts
            failed = True
            log.exception("[%s] queue thread failed", self.client_id)
        finally:
            with self._cond:
                self._thread = None
                if not failed:  # work that came in as the thread decided to end
                    self._ensure_thread()

    def _load(self) -> bool:
        """Read the store's open rows once per process; False when stopped."""
        if self._loaded:
            return True
        with self._cond:
            while self._held and self._running:
                self._cond.wait()
            if self._held:  # stopped while the restore reads: a later start loads
                return False
            given, self._given = self._given, None
        try:
            unknown, rows = given or (
                self._store.fail_open_sends(self.client_id, SENDING, OUTCOME_UNKNOWN, owner=self._options.owner),
                self._store.open_sends(self.client_id))
        except StoreError as exc:
            log.warning("[%s] queue not loaded (store: %s); retrying", self.client_id, exc)
            return self._idle(IDLE_WAIT)
        for row in unknown:
            log.warning("[%s] send %s was under way when the process ended: failed (%s)", self.client_id,
                        row.message_id, OUTCOME_UNKNOWN)
            self._hearing.send_failed(row.chat or row.recipient, row.message_id, OUTCOME_UNKNOWN)
        with self._cond:
            self._loaded = True
        self._add([r for r in rows if r.state == QUEUED])
        return True

    def _pass(self) -> bool:
        """Send what may go now, then wait for a change; False when the thread should end."""
        if time.monotonic() >= self._next_expiry:
            self._next_expiry = time.monotonic() + EXPIRE_EVERY
            self._expire()
        ready = self._ready()
        with self._cond:
            if not self._running:
                return False
            if not self._known:  # a while for more before the thread ends: a steady trickle keeps one thread
                self._cond.wait(LINGER)
                return self._running and bool(self._known)
        if ready is None:
            return self._idle(IDLE_WAIT)
        wait = self._dispatch(*ready)
        return self._idle(wait)

    def _idle(self, seconds: float) -> bool:
        with self._cond:
            if self._running:
                self._cond.wait(seconds)
            return self._running

    def _dispatch(self, session: BackendSession, sender: Sender) -> float:
        """Hand out rows; how long to wait before the next look."""
        while True:
            with self._cond:
                row = self._next_row()
                if row is None:
                    return IDLE_WAIT
                if (pause := self._cap.wait_seconds()) > 0:
                    self._pending.setdefault(row.recipient, deque()).appendleft(row)
                    return pause
                self._cap.take()
                self._busy[row.recipient] = row.message_id
            if not sender.submit(session, row, self):  # the run is ending: put it back
                self._requeue(row)
                return IDLE_WAIT

    def _next_row(self) -> OutboundRow | None:
        """Under the lock: the oldest first row of a recipient with nothing under way, taken off."""
        if len(self._busy) >= SEND_THREADS:
            return None
        heads = [(q[0].seq, r) for r, q in self._pending.items() if q and r not in self._busy]
        if not heads:
            return None
        recipient = min(heads)[1]
        row = self._pending[recipient].popleft()
        if not self._pending[recipient]:
            del self._pending[recipient]
        return row

    def _requeue(self, row: OutboundRow) -> None:
        """Back to the head of its chat's queue; a claimed row stays in _claimed: take() needs no write."""
        with self._cond:
            if self._busy.get(row.recipient) == row.message_id:
                del self._busy[row.recipient]
            self._pending.setdefault(row.recipient, deque()).appendleft(row)
            self._cond.notify_all()

    give_back = _requeue  # Lane: a row handed on that its thread will not send after all

    def _expire(self) -> None:
        cutoff = utcnow() - timedelta(seconds=self._options.expiry)
        with self._cond:
            old = [row for q in self._pending.values() for row in q if row.created_at and row.created_at < cutoff]
        for row in old:
            try:
                expired = self._store.set_send_state(row.message_id, FAILED, reason=EXPIRED)
            except StoreError:
                return  # the next pass tries again
            self._drop(row)
            if expired and not self._waiters.tell(row.message_id, expiry_error(self._options.expiry)):
                self._hearing.send_failed(row.recipient, row.message_id, EXPIRED)

    def _drop(self, row: OutboundRow) -> None:
        with self._cond:
            queue = self._pending.get(row.recipient)
            if queue is not None and row in queue:
                queue.remove(row)
                if not queue:
                    del self._pending[row.recipient]
            self._known.discard(row.message_id)
