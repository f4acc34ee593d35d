"""ClientWorker: one client, as the registry sees it; every method here may be called from any thread.

It answers queries from the ClientView, hands commands to the current Run's thread through its
inbox, and starts a fresh Run (see run.py, the state machine) on each start(). Persistence lives
as long as the worker: the delete guard and what was last saved survive a restart.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from pathlib import Path

from ..backends.backend_api import Backend, BackendSession
from ..backends.group_api import GroupCalls
from ..backends.conversation_api import CallOffered
from ..errors import DomainError, IdempotencyKeyReused, NotReady
from ..groups.client_groups import ClientGroups
from ..groups.group_book import GroupBook
from ..hearing.heard_events import EventSink, Hearing, NoEvents
from ..hearing.media_intake import MediaIntake
from ..sending.action_payloads import ActionRequest, action_hash, action_payload
from ..sending.admission import Admission
from ..sending.dispatcher import Dispatcher
from ..sending.send_options import SendOptions
from ..sending.media_kit import MediaKit
from ..sending.outcome import Accepted, accepted, outcome_of_row
from ..sending.preparation import Preparation
from ..sending.recipients import RecipientBook
from ..sending.send_status import SendStatus
from ..sending.sender import Sender, Sent
from ..sessions.persistence import Persistence
from ..sessions.session_checks import SessionChecks
from ..store.send_rows import OutboundRow
from ..store.store_api import ClientRecord, SessionStore, SnapshotMeta, StoreError
from .calls import CallPolicy, answer_call
from .inbox import PairAgain, Stop
from .lookups import Lookups
from .pairing import Prompter
from .run import Run
from .run_options import Options
from .states import CLOSED, PAIRING, READY, ClientStatus
from .unlink import NOT_LINKED, UNLINK_SECONDS, Unlinked, connect_and_log_out, not_confirmed, not_unlinked
from .view import ClientView

log = logging.getLogger(__package__)

SNAPSHOT_INTERVAL = 3.0
STOP_JOIN_SECONDS = 5.0
DELETE_MARGIN = 3.0  # beyond the unlink attempt: ending the session before it, removing the keys after


class ClientWorker:
    """One client: its state, its thread, its backend session and its persisted data."""

    def __init__(self, record: ClientRecord, *, backend: Backend, store: SessionStore, prompter: Prompter,
                 data_dir: Path, pairing_timeout: float,
                 snapshot_interval: float = SNAPSHOT_INTERVAL, events: EventSink | None = None,
                 send_options: SendOptions | None = None,
                 unlink_timeout: float = UNLINK_SECONDS, media: MediaKit | None = None,
                 intake: MediaIntake | None = None, calls: CallPolicy = CallPolicy(),
                 session_checks: SessionChecks | None = None):
        self.client_id = record.client_id
        self.session_path = Path(data_dir) / "sessions" / f"{record.client_id}.session"
        book = RecipientBook()  # one per client: its sends and its number checks share the answers
        self._calls = calls
        self._view = ClientView(record)
        # lasts across runs: the files this client uploaded to WhatsApp are reused by every run
        preparation = Preparation(record.client_id, media or MediaKit(), store, lambda: self._view.record.jid,
                                  lambda message_id: self._hearing.authors.author_of(message_id))
        self._actions = preparation.actions
        self._options = Options(record.client_id, backend, prompter, self.session_path,
                                pairing_timeout, snapshot_interval, unlink_timeout, book, self._answer_call,
                                preparation, session_checks)
        self._persist = Persistence(record.client_id, store, self.session_path)
        # lasts across runs: ack order; acks of queued sends move their rows forward (SendStatus)
        # lasts across runs too: the group cache, loaded at each READY, kept by group events (wamulti/groups/)
        self.groups = ClientGroups(record.client_id, GroupBook(lambda: self._view.record.jid), self._group_calls)
        self._hearing = Hearing(record.client_id, SendStatus(events or NoEvents(), store), groups=self.groups,
                                media=intake, session_of=self._open_session)
        self._store = store
        self._outbound = Dispatcher(record.client_id, store, self._hearing,
                                    send_options or SendOptions(), self._ready)
        self.lookups = Lookups(record.client_id, self._ready, lambda: self._view.state, book)
        self._admission = Admission(record.client_id)  # shut by delete: no send row after the client's
        self._lock = threading.Lock()  # guards _thread and _run; never held across I/O
        self._thread: threading.Thread | None = None
        self._run = self._new_run()  # idle until start(); stop() uses it meanwhile

    def _new_run(self) -> Run:
        return Run(self._options, self._view, self._persist, self._hearing)

    # ---- queries -----------------------------------------------------------------------------
    def status(self) -> ClientStatus:
        status = self._view.status()
        if status.jid is None:  # no keys yet: nothing to be behind on
            return status
        lag, synced_at = self._persist.snapshot_lag()
        return replace(status, snapshot_lag=lag, last_snapshot_at=synced_at)

    @property
    def state(self) -> str:
        return self._view.state

    def qr(self) -> str | None:
        return self._view.pending_qr()

    def is_running(self) -> bool:
        with self._lock:
            return self._alive()

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def wakeups(self) -> int:
        """How often the current run's thread woke (for a message or a timer of its own)."""
        return self._run.wakeups

    def next_wakeup(self) -> float | None:
        """Seconds until the worker thread wakes by itself (None: only a message wakes it)."""
        return self._run.seconds_to_wakeup()

    def wait_for_pairing_code(self, timeout: float) -> None:
        """Block (a request thread) until a code was issued or pairing ended, at most timeout."""
        self._view.wait_for_pairing_code(timeout)

    def wait_for_state(self, states: set[str], timeout: float) -> bool:
        """Block until the state is one of states; True if it got there in time."""
        return self._view.wait_for_state(states, timeout)

    # ---- commands ----------------------------------------------------------------------------
    def created(self) -> None:
        """The registry stored this new client's row, and it has no sends: the first run neither writes
        the row again nor reads its send queue from the store (Dispatcher.nothing_stored)."""
        self._persist.row_stored(self._view.record)
        self._outbound.nothing_stored()

    def know_stored(self, meta: SnapshotMeta | None) -> None:
        """Start-up: the store's snapshot meta for this client, read with every other client's (see
        Persistence.know_stored); before start()."""
        self._persist.know_stored(meta)

    def start(self, *, phone: str | None = None, delay: float = 0.0, fresh_pairing: bool = False,
              queue: bool = True) -> None:
        """Start the worker thread; with fresh_pairing, forget the old pairing and pair anew. Without
        `queue`, the send queue starts later (start_queue), as the registry's restore does."""
        with self._lock:
            if self._alive():
                raise RuntimeError("worker already running")
            if self._persist.deleted:
                raise RuntimeError("worker was deleted")
            self._view.clear_pairing()
            self._view.expect_new_code()
            self._run = self._new_run()
            self._run.open_inbox()
            self._thread = threading.Thread(target=self._run.main, args=(phone, delay, fresh_pairing),
                                            name=f"wa-{self.client_id}", daemon=True)
            thread = self._thread
        thread.start()
        if queue:
            self._outbound.start()

    @property
    def queue(self) -> Dispatcher:
        """The send queue (the restore hands it the rows read for every client at once)."""
        return self._outbound

    def start_queue(self) -> None:
        """Start the send queue of a worker started without it (its first look at the store's queued
        rows); not once the worker was stopped or deleted. Sends accepted meanwhile were stored and wait."""
        if self.is_running() and not self._persist.deleted:
            self._outbound.start()

    def pair(self, phone: str | None) -> None:
        """Pair again: restart a running, unpaired attempt, or start a CLOSED client.

        A CLOSED client that still holds keys and gets no phone reconnects with them; a phone
        always means a fresh pairing.
        """
        with self._lock:
            running = self._alive()
            run = self._run
            if running:
                self._view.expect_new_code()
        if running and run.post(PairAgain(phone)):
            return
        self.join(STOP_JOIN_SECONDS)  # a run that refused the command is on its way out
        self.start(phone=phone, fresh_pairing=phone is not None)

    def stop(self) -> None:
        """Ask the worker to stop (a final snapshot is saved on its thread); returns at once."""
        self._outbound.stop()
        self._post_stop(delete=False)

    def cut(self) -> None:
        """Stop, disconnecting now from this thread (the cluster lost or let go of the lease: the worker
        thread may be stuck in a store write); the Stop goes first, so no reconnect follows the cut."""
        self.stop()
        with self._lock:
            run = self._run
        run.connection.cut()

    def delete(self) -> Unlinked:
        """Delete the client in any state; the whole sequence lives here. Returns whether it was unlinked.

        A stopped, linked client's keys are fetched from the store first if the working file is
        gone, so that it can still log out. Store writes are then blocked (after one in flight), so
        no late write brings the row back, and the rows are deleted. If either raises StoreError
        nothing changed and the client goes on. Unlinking (clients/unlink.py), stop and removing the
        keys run on the worker thread (or a thread of their own), never the caller's; the caller
        waits at most unlink_timeout + DELETE_MARGIN seconds for the outcome.
        """
        self._hearing.mute()
        self._admission.shut()  # the sends writing their rows finish first: the delete removes those too
        try:
            self._keys_at_hand()
            self._persist.delete_rows()
        except BaseException:
            self._hearing.unmute()  # nothing was deleted: the client goes on as it was
            self._admission.reopen()
            raise
        self._outbound.forget()
        outcome: Future = Future()
        self._post_stop(delete=True, outcome=outcome)
        wait = self._options.unlink_timeout + DELETE_MARGIN
        try:
            return outcome.result(timeout=wait)
        except FutureTimeout:
            return not_confirmed(wait)

    def _keys_at_hand(self) -> None:
        """A linked client that is not running may have only the store's copy of its keys: restore it."""
        if self._view.record.jid is not None and not self.is_running() and not self.session_path.exists():
            try:
                self._persist.restore()  # StoreError propagates: nothing has changed yet
            except (OSError, ValueError, zlib.error) as exc:  # a damaged snapshot must not block a delete
                log.warning("[%s] stored keys unreadable (%s); deleting without unlinking", self.client_id,
                            type(exc).__name__)

    def _post_stop(self, *, delete: bool, outcome: Future | None = None) -> None:
        with self._lock:
            run = self._run
        if run.post(Stop(delete, outcome)):
            return
        if delete:  # no run will handle it: do its part on a thread of its own
            threading.Thread(target=self._delete_unattended, args=(outcome,), name=f"wa-{self.client_id}-delete",
                             daemon=True).start()
        run.sender.shutdown()

    def _delete_unattended(self, outcome: Future | None) -> None:
        """The part of a delete a run would do, for a client with no worker thread: unlink, remove the keys."""
        result = NOT_LINKED
        try:
            if self._view.record.jid is not None:
                result = connect_and_log_out(self._options.backend, self.client_id, self.session_path,
                                             self._options.unlink_timeout)
        except Exception:  # a bug must not keep the keys
            log.exception("[%s] unlinking failed", self.client_id)
            result = not_unlinked("an internal error")
        self._persist.forget_keys()
        if outcome is not None and not outcome.done():
            outcome.set_result(result)

    def join(self, timeout: float) -> bool:
        """Wait for the worker thread to end; True if it did."""
        deadline = time.monotonic() + timeout
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        return self._outbound.join(max(0.0, deadline - time.monotonic()))

    # ---- sending ------------------------------------------------------------------------------
    def submit(self, to: str, text: str, idem: tuple[str, str] | None = None, wait: float = 0.0,
               payload: tuple[str, str | None] | None = None) -> Sent | Accepted:
        """Accept a send into the client's queue and wait up to `wait` seconds for its outcome: Sent, or
        Accepted (still queued or sending), or raise the error it failed with. `idem` (key, request hash)
        answers a key seen before with its first send (IdempotencyKeyReused for another request).
        A paired client takes sends in any running state; they go out once it is READY. `payload`: (JSON,
        media id) of a send that is more than a plain text (Dispatcher.accept)."""
        record = self._view.record  # one read: state and jid of the same moment, never torn
        if record.jid is None or record.state in (PAIRING, CLOSED):
            raise NotReady(f"Client '{self.client_id}' is {record.state}, not READY.", current_state=record.state)
        with self._admission.enter():  # NotFound once a delete has begun
            row, created, future = self._outbound.accept(to, text, idem, wait=wait > 0, payload=payload)
        if not created and idem is not None and row.idem_hash != idem[1]:
            raise IdempotencyKeyReused("This Idempotency-Key was used with another request; nothing was sent.")
        if wait <= 0:
            return _answer(row)
        if not created:  # a replay: its send may be queued, under way, or have ended
            future = self._outbound.listen(row.message_id)
            if not (row := self._latest(row)).is_open:  # read after listen(): no outcome falls between
                future.cancel()
                return _answer(row)
        return self._await(row, future, wait)

    def act(self, request: ActionRequest, idempotency_key: str | None = None, wait: float = 0.0) -> Sent | Accepted:
        """Accept a message action into the queue behind its target's send (ActionTargets.admit checks it
        and picks the line), answered as submit() answers; the key's hash is of the request as asked."""
        idem = (idempotency_key, action_hash(self.client_id, request)) if idempotency_key else None
        line, request = self._actions.admit(request)
        return self.submit(line, request.body, idem, wait=wait, payload=(action_payload(request), None))

    def _await(self, row: OutboundRow, future: Future, wait: float) -> Sent | Accepted:
        """The send's outcome if it comes within `wait` seconds, else its row as it is then."""
        try:
            return future.result(timeout=wait)  # or raises the error the send failed with
        except FutureTimeout:
            pass
        if not future.cancel():  # the outcome came as the wait ended
            return future.result()
        return _answer(self._latest(row))

    def _latest(self, row: OutboundRow) -> OutboundRow:
        try:
            return self._store.get_send(row.message_id) or row
        except StoreError:
            return row

    def _group_calls(self) -> GroupCalls:
        """The READY session's group calls (request threads), else NotReady like a send's."""
        ready = self._ready()
        if ready is None:
            state = self._view.state
            raise NotReady(f"Client '{self.client_id}' is {state}, not READY.", current_state=state)
        return ready[0].groups()

    # ---- incoming media ---------------------------------------------------------------------------
    def retry_media(self, media_id: str) -> dict:
        """Download an incoming media of this client again; NotReady unless the client is READY."""
        state = self._view.state
        if state != READY:
            raise NotReady(f"Client '{self.client_id}' is {state}, not READY.", current_state=state)
        return self._hearing.retry_media(media_id)

    def _open_session(self) -> BackendSession | None:
        """The current run's open session (a media download thread asks as its download starts)."""
        return self._run.connection.session

    def _answer_call(self, call: CallOffered, session: BackendSession) -> None:
        """An incoming call (worker thread): rejected, and answered in text, as REJECT_CALLS says."""
        answer_call(self.client_id, self._calls, call, session, lambda to, text: self.submit(to, text))

    def _ready(self) -> tuple[BackendSession, Sender] | None:
        """The session and sender of the current run while the client is READY (the queue asks)."""
        run = self._run
        session = run.connection.session
        if self._view.state != READY or session is None:
            return None
        return session, run.sender


def _answer(row: OutboundRow) -> Sent | Accepted:
    outcome = outcome_of_row(row)
    return accepted(row) if outcome is None else _answer_outcome(outcome)


def _answer_outcome(outcome: Sent | DomainError) -> Sent:
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome
