"""Dispatcher: one client's outbound queue, sent in order per recipient by the client's own sender.

The store holds the queue (store/send_rows.py); the dispatcher keeps the client's open rows in
memory too, per recipient in order of acceptance, and runs a thread `wa-<clientId>-queue` while
there is anything to send. A row moves one way: it waits in its chat's line (chat_lines.py) until
the queue thread claims it in the store and hands it to the Sender (at most SEND_THREADS under way,
no faster than the rate cap, the first row of a chat with nothing under way); the send thread sends
it and reports the outcome once (finish), which stores it, tells the requests waiting for it (their
futures) and, in the same write, claims the chat's next row, which that thread sends next (no
hand-over to another thread between a chat's sends). A chat's next row goes only after the one
before it ended, so each chat gets its messages in order.

The first time the queue is loaded in this process (at start-up: read with every returning client's
rows at once, wamulti/sending/queue_load.py), a row found `sending` that this instance took
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
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta

from ..backends.backend_api import BackendSession
from ..errors import DomainError
from ..hearing.heard_events import Hearing
from ..store.client_rows import utcnow
from ..store.send_rows import FAILED, IDEMPOTENCY_HOURS, QUEUED, SENDING, OutboundRow
from ..store.store_api import SessionStore, StoreError
from .chat_lines import ChatLines, tell
from .send_options import EXPIRED, OUTCOME_UNKNOWN, SendOptions
from .outcome import deleted_error, expiry_error, outcome_change
from .ratecap import RateCap
from .sender import SEND_THREADS, Outcome, Sender, new_message_id

log = logging.getLogger(__name__)

IDLE_WAIT = 1.0  # seconds between looks at a client that is not READY (or a store that was down)
LINGER = 2.0  # seconds an idle queue thread waits for new work before it ends
EXPIRE_EVERY = 1.0  # seconds between looks for expired rows (not every pass: a pass follows every send)
FRESH_CLAIM = 60.0  # seconds within which a row claimed with the send before it is sent without a look
DRAIN_LOOK = 0.05  # seconds between drain()'s looks (an ending send does not always notify)


Ready = Callable[[], tuple[BackendSession, Sender] | None]
"""The client's session and sender while it is READY, else None."""


class Dispatcher:
    """Any thread may accept() and listen(); the queue thread claims and hands out rows; send threads
    call finish()."""

    def __init__(self, client_id: str, store: SessionStore, hearing: Hearing, options: SendOptions, ready: Ready):
        self.client_id = client_id
        self._store = store
        self._hearing = hearing
        self._options = options
        self._ready = ready
        self._cap = RateCap(options.rate_per_minute)
        self._cond = threading.Condition()  # guards _chats, _cap and the fields below
        self._chats = ChatLines(SEND_THREADS)
        self._loaded = False  # the store's open rows were read in this process
        self._held = False  # the restore reads them with every other client's: the first load waits
        self._given: tuple[list[OutboundRow], list[OutboundRow]] | None = None  # what it read
        self._running = False  # start() was called and stop() not since
        self._deleted = False  # forget() was called: the client and its rows are gone
        self._thread: threading.Thread | None = None
        self._next_expiry = 0.0  # monotonic time of the next look for expired rows (queue thread only)

    # ---- any thread ----------------------------------------------------------------------------
    def accept(self, recipient: str, text: str, idem: tuple[str, str] | None = None,
               wait: bool = False, payload: tuple[str, str | None] | None = None
               ) -> tuple[OutboundRow, bool, Future | None]:
        """Store a new queued row (its id given here) and queue it: (row, True, a future told its outcome
        if `wait`); or, for an idempotency key already held, (that row, False, None): see listen().
        `payload`: (the row's payload JSON, the media id it sends) for anything but a plain text."""
        key, digest = idem or (None, None)
        json_payload, media_id = payload or (None, None)
        row = OutboundRow(new_message_id(), self.client_id, recipient, text, idem_key=key, idem_hash=digest,
                          payload=json_payload, media_id=media_id)
        # listened for before the row is stored: the queue's first load may read and send it before _add
        future = self.listen(row.message_id) if wait else None
        try:
            stored, created = self._store.enqueue_send(row, self._options.queue_max, self._idem_since())
        except BaseException:
            if future is not None:
                future.cancel()
            raise
        if not created:
            if future is not None:
                future.cancel()  # this id was never queued
            return stored, False, None
        self._add(self._with_earlier(stored))
        return stored, True, future

    def _with_earlier(self, stored: OutboundRow) -> list[OutboundRow]:
        """The row, and (CLUSTER=on) the queued rows other instances accepted before it: a chat's order."""
        if not self._options.shared:
            return [stored]
        try:  # (a failed read: the queue pickup finds them within a second)
            return [r for r in self._store.open_sends(self.client_id) if r.state == QUEUED] or [stored]
        except StoreError:
            return [stored]

    def found(self, rows: list[OutboundRow]) -> None:
        """Queued rows other instances accepted (CLUSTER=on, cluster/queue_pickup.py); known ones skipped."""
        if self._loaded:  # else its first load reads them
            self._add(rows)

    def listen(self, message_id: str) -> Future:
        """A future told the outcome of a send that ends here (an idempotent replay's: its row may be
        queued here after this call, or have ended already, or be another instance's). The caller
        reads the row after this call and cancels the future when it stops waiting."""
        with self._cond:
            return self._chats.listen(message_id)

    def nothing_stored(self) -> None:
        """A new client's queue: the store holds no rows of it, so there is nothing to load (no thread
        starts until a send is accepted)."""
        with self._cond:
            self._loaded = True

    def open_count(self) -> int:
        """The client's sends queued or under way in this process (the dashboard's queue length)."""
        with self._cond:
            return self._chats.open_count()

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

    def drain(self, timeout: float) -> bool:
        """After stop(): wait up to `timeout` for the sends under way to end (a CLUSTER=on hand-over)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._chats.under_way() and time.monotonic() < deadline:
                self._cond.wait(min(DRAIN_LOOK, max(0.0, deadline - time.monotonic())))
            return not self._chats.under_way()

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
            self._running = False
            self._deleted = True
            unsent = self._chats.drop_lines()
            self._cond.notify_all()
        for futures in unsent:
            tell(futures, deleted_error(self.client_id))

    def hold_load(self) -> bool:
        """Start-up: the first load waits for the rows read for many clients at once (give_load);
        False if this queue has loaded (or is loading) its rows itself."""
        with self._cond:
            self._held = self._held or (not self._loaded and self._thread is None)
            return self._held

    def give_load(self, loaded: tuple[list[OutboundRow], list[OutboundRow]] | None) -> None:
        """The rows read for this client (failed as outcome_unknown, open), or None: it reads its own."""
        with self._cond:
            self._held = False
            self._given = loaded
            self._cond.notify_all()

    def _idem_since(self):
        return utcnow() - timedelta(hours=IDEMPOTENCY_HOURS)

    def _add(self, rows: list[OutboundRow]) -> None:
        with self._cond:
            startable = False  # a row that may go at once: the queue thread must look now
            for row in rows:
                startable |= self._chats.add(row)
            self._ensure_thread()
            if startable:  # else the send under way for its chat wakes the thread as it ends
                self._cond.notify_all()

    def _ensure_thread(self) -> None:
        """Under the lock: a queue thread runs while the client runs and has work (or must load)."""
        if self._thread is None and self._running and (self._chats.has_work() or not self._loaded):
            self._thread = threading.Thread(target=self._main, name=f"wa-{self.client_id}-queue", daemon=True)
            self._thread.start()

    # ---- the send threads ----------------------------------------------------------------------
    def finish(self, row: OutboundRow, outcome: Outcome, sender: Sender) -> tuple[bool, OutboundRow | None]:
        """Store the outcome, tell the requests waiting for it, and, in the same write, claim the chat's
        next row, which the sender's thread then sends next: a chat's sends follow each other without
        a pass of the queue thread or a hand-over in between. (True if a request was told, that row.)"""
        following = self._following(row, sender)
        try:
            claimed = self._store.finish_send(row.message_id, outcome_change(outcome),
                                              following.message_id if following else None, self._options.owner)
        except StoreError as exc:  # the row stays `sending`: after a restart it reads outcome_unknown
            log.warning("[%s] outcome of send %s not stored: %s", self.client_id, row.message_id, exc)
            claimed = False
        with self._cond:
            waiting = self._chats.settle(row.message_id)
            following = self._go_on(row, following, claimed, sender)
            deleted = self._deleted
        if deleted and isinstance(outcome, DomainError):  # it failed as the delete ended the session
            outcome = deleted_error(self.client_id)
        return tell(waiting, outcome), following

    def _following(self, row: OutboundRow, sender: Sender) -> OutboundRow | None:
        """The chat's next row if it may go now (this run's sender, under the rate cap, not expired),
        left in its line until its claim is stored; the chat stays busy with it."""
        ready = self._ready()
        if ready is None or ready[1] is not sender:  # this thread's run has ended
            return None
        cutoff = utcnow() - timedelta(seconds=self._options.expiry)
        with self._cond:
            following = self._chats.head(row.recipient)
            if not self._running or following is None or self._cap.wait_seconds() > 0:
                return None
            if following.created_at and following.created_at < cutoff:
                return None
            self._cap.take()
            self._chats.start(following)
            return following

    def _go_on(self, row: OutboundRow, following: OutboundRow | None, claimed: bool,
               sender: Sender) -> OutboundRow | None:
        """Under the lock, the outcome stored: the claimed next row if the sender's thread sends it, else
        the chat is free (a row claimed as its run ended stays in its line, marked claimed)."""
        if following is not None and claimed:
            if sender.open:
                self._chats.leave(following)
                return following
            self._chats.mark_claimed(following, time.monotonic())  # it stays in line: the next run sends it
        self._chats.free(row.recipient)
        if self._chats.has_lines():  # this chat's next row, or another's that waited for a free send thread
            self._cond.notify_all()
        return None

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
            given = self._given
            self._given = None
        if given is None:  # nobody read them for this queue: it reads its own
            try:
                given = (self._store.fail_open_sends(self.client_id, SENDING, OUTCOME_UNKNOWN,
                                                     owner=self._options.owner),
                         self._store.open_sends(self.client_id))
            except StoreError as exc:
                log.warning("[%s] queue not loaded (store: %s); retrying", self.client_id, exc)
                return self._idle(IDLE_WAIT)
        unknown, rows = given
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
            if not self._chats.has_work():  # a while for more before the thread ends: a steady trickle keeps one
                self._cond.wait(LINGER)
                return self._running and self._chats.has_work()
        if ready is None:
            return self._idle(IDLE_WAIT)
        session, sender = ready
        return self._idle(self._dispatch(session, sender))

    def _idle(self, seconds: float) -> bool:
        with self._cond:
            if self._running:
                self._cond.wait(seconds)
            return self._running

    def _dispatch(self, session: BackendSession, sender: Sender) -> float:
        """Claim rows and hand them to the sender; how long to wait before the next look."""
        while sender.open:
            with self._cond:
                row = self._chats.next_head()
                if row is None:
                    return IDLE_WAIT
                if (pause := self._cap.wait_seconds()) > 0:
                    return pause
                self._cap.take()
                self._chats.start(row)
            claimed = self._claim(row)
            with self._cond:
                if claimed:
                    self._chats.leave(row)
                else:
                    self._chats.free(row.recipient)
                if claimed is False:  # no longer queued (expired or failed meanwhile): not ours to send
                    self._chats.drop(row)
            if claimed is None:  # the store did not answer: the row stays first in its line
                return IDLE_WAIT
            if claimed and not sender.submit(session, row, self):
                self._unsent(row)
                return IDLE_WAIT
        return IDLE_WAIT

    def _claim(self, row: OutboundRow) -> bool | None:
        """Mark the row sending in the store: True; False if it is no longer queued; None: no answer."""
        with self._cond:
            claimed_at = self._chats.claimed_at(row)
        try:
            if claimed_at is not None:  # marked sending already, with the send before it, as its run ended
                # at once, it is ours; after a while it is checked: upkeep may have failed it as outcome_unknown
                return time.monotonic() - claimed_at < FRESH_CLAIM or self._still_sending(row)
            return self._store.claim_send(row.message_id, self._options.owner)
        except Exception as exc:  # StoreError, or a store that broke otherwise: the row stays queued
            log.warning("[%s] send %s not started (store: %s)", self.client_id, row.message_id, exc)
            if claimed_at is not None:
                with self._cond:
                    self._chats.mark_claimed(row, claimed_at)
            return None

    def _still_sending(self, row: OutboundRow) -> bool:
        stored = self._store.get_send(row.message_id)
        return stored is not None and stored.state == SENDING

    def _unsent(self, row: OutboundRow) -> None:
        """The sender shut down between the claim and the hand-over: the row, claimed, waits for the next run."""
        with self._cond:
            self._chats.keep_claimed(row, time.monotonic())
            self._chats.free(row.recipient)
            self._cond.notify_all()

    def _expire(self) -> None:
        cutoff = utcnow() - timedelta(seconds=self._options.expiry)
        with self._cond:
            old = self._chats.older_than(cutoff)
        for row in old:
            try:
                expired = self._store.set_send_state(row.message_id, FAILED, reason=EXPIRED)
            except StoreError:
                return  # the next pass tries again
            with self._cond:
                waiting = self._chats.drop(row)
            if expired and not tell(waiting, expiry_error(self._options.expiry)):
                self._hearing.send_failed(row.recipient, row.message_id, EXPIRED)
