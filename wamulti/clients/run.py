"""Run: one run of a client's worker thread, from start() until the client is CLOSED or stopped.

Everything here runs on the worker thread `wa-<clientId>`, the only place where the client's state
changes. A run coordinates its parts and decides; they do the work: the Connection (sessions and
the connection thread), Pairing (the number and the console prompt), Timers, the Sender (used by
request threads), and, shared with the worker across runs, the ClientView and Persistence.
start() makes a fresh Run, so nothing of an earlier run (a late connection-thread message, a timer,
a prompt) leaks into the next. The session file's periodic look is one thread's for all (FlushDue).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone

from ..backends.backend_api import (BackendError, Connected, Disconnected, Event, KeepAliveMissed,
                                    KeepAliveRestored, LoggedOut, PairFailed, PairSuccess, QrUpdated, RetryLater,
                                    SyncCompleted, TemporaryBan, Terminated)
from ..backends.conversation_api import CallOffered
from ..backends.reasons import retry_at_of, seconds_until
from ..hearing.heard_events import Hearing
from ..sending import sender
from ..sessions import session_checks
from ..sessions.persistence import Persistence, Restore
from .connection import ATTEMPTS_AT_CAP, Connection, NetworkBack, backoff_delay
from .inbox import ConnectionEnded, FlushDue, PairAgain, PhoneAnswer, SessionEvent, Stop
from .inbox_queue import Empty, InboxQueue
from .pairing import Pairing
from .run_options import Options
from .states import CLOSED, CONNECTING, PAIRING, READY, SYNCING
from .timers import Timer, Timers
from .unlink import NOT_LINKED, Unlinked, connect_and_log_out, log_out, not_unlinked
from .view import ClientView

log = logging.getLogger(__package__)


class Run:
    """The state machine of one run, over its parts."""

    def __init__(self, options: Options, view: ClientView, persistence: Persistence, hearing: Hearing):
        self.client_id = options.client_id
        self._options = options
        self._view = view
        self._persist = persistence
        self.inbox = InboxQueue()  # commands put messages here (any thread); idle, it parks in poll()
        self._hearing = hearing
        self.connection = Connection(options.client_id, options.backend, options.session_path, self.inbox.put,
                                     hear=hearing.heard)
        self.sender = sender.Sender(options.client_id, hearing, options.preparation, options.recipients)
        self._pairing = Pairing(options.client_id, options.prompter, self.inbox.put)
        self._timers = Timers()
        # the periodic look at the session file runs on one thread for every client (session_checks.py)
        self._checks = options.session_checks or session_checks.shared(options.snapshot_interval)
        self._flush_asked = False  # a FlushDue waits in the inbox: the checks need not post another
        self.wakeups = 0  # how often the thread woke (a message or a timer): idle clients stay at 0
        self._attempts = 0  # connections ended since the last Connected: the backoff (never a limit)
        self._stopping = False  # the thread ends after the current step
        self._accepting = False  # post() and the run's end agree under the lock: handled here, or refused
        self._accepting_lock = threading.Lock()

    def open_inbox(self) -> None:
        """Accept commands from now on (start() calls it before the thread runs)."""
        with self._accepting_lock:
            self._accepting = True

    def post(self, command: Stop | PairAgain) -> bool:
        """Hand a command to the worker thread; False once the run has ended (the caller acts itself)."""
        with self._accepting_lock:
            if self._accepting:
                self.inbox.put(command)
            return self._accepting

    # ---- loop and dispatch -------------------------------------------------------------------
    def main(self, phone: str | None, delay: float, fresh_pairing: bool) -> None:
        """The worker thread's body."""
        try:
            self._begin(phone, delay, fresh_pairing)
            while not self._stopping:
                self._step()
        except Exception:  # a bug must not leave a zombie client: log it and close the client
            log.exception("[%s] worker failed", self.client_id)
            self._close("internal_error")
        finally:
            self._finish()
            self._close_inbox()

    def _begin(self, phone: str | None, delay: float, fresh_pairing: bool) -> None:
        self._checks.watch(self, self._look)
        if fresh_pairing:
            self._forget_keys()
        if self._view.record.jid is None:
            self._start_pairing(phone, delay)
        elif self._persist.restore() is Restore.MISSING:
            self._close("session_missing", snapshot=False)
        else:
            ban_left = seconds_until(retry_at_of(self._view.record.last_error))
            if ban_left > 0:  # a temporary ban outlives a restart: its expiry is in the row
                log.info("[%s] temporarily banned; reconnecting in %.0fs", self.client_id, ban_left)
                self._set(state=CONNECTING)
            else:
                self._set(state=CONNECTING, last_error=None)
            self._timers.schedule(Timer.CONNECT, max(delay, ban_left))

    def _step(self) -> None:
        for timer in self._timers.pop_due():
            self._on_timer(timer)
        if self._stopping:
            return
        try:
            message = self.inbox.get(timeout=self._timers.seconds_to_next())
        except Empty:
            message = None
        self.wakeups += 1
        if message is not None:
            self._handle(message)

    def seconds_to_wakeup(self) -> float | None:  # any thread: when it wakes by itself (None: never)
        return self._timers.seconds_to_next()

    def _look(self) -> bool:
        """On the session-checks thread: ask this thread to flush when the store lacks something."""
        if self._flush_asked or not self._persist.needs_flush(self._view.record.jid is not None):
            return False
        self._flush_asked = True
        self.inbox.put(FlushDue())
        return True

    def _handle(self, message: object) -> None:
        current = self.connection.is_current  # an ended session's messages are ignored
        match message:
            case Stop(delete=delete, outcome=outcome):
                self._shutdown(delete=delete, outcome=outcome)
            case SessionEvent(generation=generation, event=event) if current(generation):
                self._on_event(event)
            case ConnectionEnded(generation=generation, error=error) if current(generation):
                self._reconnect_later(f"connect_failed: {error}" if error else "disconnected")
            case PhoneAnswer(digits=digits, reason=reason):
                self._on_phone_answer(digits, reason)
            case PairAgain(phone=phone):
                self._pair_again(phone)
            case FlushDue():
                self._flush_asked = False  # before the flush: a change after it is posted again
                self._flush()
            case NetworkBack(delay=delay) if self.connection.session is None:
                self._attempts = max(self._attempts, ATTEMPTS_AT_CAP)  # if this dial fails: the full backoff
                self._timers.schedule(Timer.CONNECT, delay)

    def _on_timer(self, timer: Timer) -> None:
        match timer:
            case Timer.CONNECT:
                self._open_connection()
            case Timer.PAIRING:
                log.info("[%s] no phone linked within %gs", self.client_id, self._options.pairing_timeout)
                self._close("pairing_timeout")
            case Timer.CODE_WINDOW:
                log.info("[%s] the pairing code expired (the QR window closed)", self.client_id)
                self._close("pairing_expired")

    def _on_event(self, event: Event) -> None:
        match event:
            case QrUpdated(data=data):
                self._on_qr(data)
            case PairSuccess(jid=jid):
                self._on_paired(jid)
            case PairFailed(reason=reason):
                self._close(f"pairing_failed: {reason}" if reason else "pairing_failed")
            case Connected():
                self._attempts = 0
                self._set(state=SYNCING, last_error=None)
            case SyncCompleted():
                self._set(state=READY, last_error=None)
            case Disconnected(reason=reason):
                self._set(state=CONNECTING, last_error=reason)
            case KeepAliveMissed(count=count):
                self._on_keepalive_missed(count)
            case KeepAliveRestored():
                self._on_keepalive_restored()
            case LoggedOut(reason=reason):
                self._on_logged_out(reason)
            case TemporaryBan(reason=reason, retry_at=retry_at):
                self._on_temporary_ban(reason, retry_at)
            case RetryLater(reason=reason):
                self._reconnect_later(reason)
            case Terminated(reason=reason):
                self._close(reason)
            case CallOffered() if self._options.on_call is not None and self.connection.session is not None:
                self._options.on_call(event, self.connection.session)

    # ---- pairing -----------------------------------------------------------------------------
    def _start_pairing(self, phone: str | None, delay: float = 0.0) -> None:
        """Pair by phone (a code once a QR window opens), or ask the console for the number first."""
        if phone is None:
            self._set(state=PAIRING, last_error=None)  # before the prompt shows, so it reads PAIRING
            self._pairing.ask_console()
            return
        self._pairing.use_phone(phone)
        self._set(state=CONNECTING, phone=phone, last_error=None)
        self._timers.schedule(Timer.CONNECT, delay)
        self._timers.schedule(Timer.PAIRING, self._options.pairing_timeout)  # upper bound, dials included

    def _pair_again(self, phone: str | None) -> None:
        """A new attempt for an unpaired, running client: the old attempt is released first."""
        self._pairing.abandon()
        self.connection.end()
        self._timers.cancel(Timer.PAIRING, Timer.CODE_WINDOW, Timer.CONNECT)
        self._view.clear_pairing()
        self._forget_keys()
        self._start_pairing(phone)

    def _on_phone_answer(self, digits: str | None, reason: str | None) -> None:
        self._pairing.answered(digits)
        if digits is None:
            self._close(reason or "no_phone_number")
            return
        self._set(state=CONNECTING, phone=digits)
        self._timers.schedule(Timer.PAIRING, self._options.pairing_timeout)
        self._open_connection()

    def _on_qr(self, data: str) -> None:
        self._view.show_qr(data)
        if not self._pairing.window_open:
            self._open_window()
        if self._pairing.phone is None or self._view.pairing_code is not None:  # QR pairing, or code shown
            if self._view.state == CONNECTING:
                self._set(state=PAIRING)
            return
        try:
            code = self._pairing.request_code(self.connection.session)
        except BackendError as exc:
            self._close(f"pairing_failed: {exc}")
            return
        self._view.show_code(code)
        self._set(state=PAIRING, last_error=None)

    def _open_window(self) -> None:
        """A session's first QR: its codes live for the backend's window, within PAIRING_TIMEOUT."""
        window = self._options.backend.pairing_window
        left = self._timers.seconds_left(Timer.PAIRING)
        if window is not None and (left is None or window < left):
            self._timers.schedule(Timer.CODE_WINDOW, window)
            left = window
        self._pairing.open_window(left)
        if left is not None:
            self._view.show_expiry(datetime.now(timezone.utc) + timedelta(seconds=left))

    def _close_window(self) -> None:
        """The pairing session ended: its QR and code are void; the next session opens a new window."""
        self._timers.cancel(Timer.CODE_WINDOW)
        self._pairing.close_window()
        self._view.clear_pairing()

    def _on_paired(self, jid: str) -> None:
        self._timers.cancel(Timer.PAIRING, Timer.CODE_WINDOW)
        self._pairing.linked()
        self._view.clear_pairing(settled=True)
        self._set(state=CONNECTING, jid=jid, last_error=None)
        log.info("[%s] paired", self.client_id)
        self._flush(force_snapshot=True)
        session = self.connection.session
        if session is not None and session.ends_after_pairing:  # its process ends: connect for real
            self._open_connection()

    def _open_connection(self) -> None:
        """A new session (a pairing one when unlinked); a paired one waits while the network gate is closed."""
        paired = self._view.record.jid is not None
        if paired and self._wait_for_network():
            return
        self.connection.open(pairing=not paired)

    def _wait_for_network(self) -> bool:
        """Wait while the gate is closed (CONNECTING, `waiting_for_network: ...`); False: dial now."""
        waiting = self.connection.wait_for_network()
        if waiting is None:
            return False
        self._set(state=CONNECTING, last_error=waiting)
        return True

    def _forget_keys(self) -> None:
        """Drop the working copy of the keys before a fresh pairing (the store's copy stays until then)."""
        self._persist.forget_keys()
        if self._view.record.jid is not None:
            self._set(jid=None)

    # ---- connection ending, closing, stopping -------------------------------------------------
    def _reconnect_later(self, reason: str) -> None:
        """End the session; reconnect after a backoff, or when the network is back: never close."""
        self.connection.end()
        if self._view.record.jid is None:
            self._close_window()
        self._attempts += 1
        delay = backoff_delay(self._attempts)
        log.info("[%s] connection ended (%s); retry %d in %.1fs", self.client_id, reason, self._attempts, delay)
        self._view.settle()  # a caller waiting for a code learns of the failure now, not in 15 s
        if self._view.record.jid is not None and self._wait_for_network():
            return
        self._set(state=CONNECTING, last_error=reason)
        self._timers.schedule(Timer.CONNECT, delay)

    def _on_logged_out(self, reason: str) -> None:
        log.warning("[%s] logged out by WhatsApp (%s); removing its session keys", self.client_id, reason)
        self.connection.end()
        self._persist.forget_keys()
        self._persist.remove_stored_snapshot()
        self._set(jid=None)
        self._close(reason or "logged_out", snapshot=False)

    def _on_temporary_ban(self, reason: str, retry_at: datetime) -> None:
        """Keep the keys, wait in CONNECTING until the ban expires (not earlier), then reconnect."""
        self.connection.end()
        wait = seconds_until(retry_at)
        log.warning("[%s] %s; reconnecting in %.0fs", self.client_id, reason, wait)
        self._set(state=CONNECTING, last_error=reason)
        self._timers.schedule(Timer.CONNECT, wait)

    def _on_keepalive_missed(self, count: int) -> None:
        """whatsmeow decides when the socket is gone (then a disconnect follows): the state stays."""
        log.warning("[%s] %d keepalive ping(s) unanswered", self.client_id, count)
        if self._view.state in (SYNCING, READY):
            self._set(last_error=f"keepalive_timeout: {count} missed")

    def _on_keepalive_restored(self) -> None:
        log.info("[%s] keepalive answered again", self.client_id)
        if (self._view.record.last_error or "").startswith("keepalive_timeout:"):
            self._set(last_error=None)

    def _close(self, reason: str, *, snapshot: bool = True) -> None:
        """Go to CLOSED with a reason; the thread ends after this step."""
        self._pairing.cancel_prompt()
        self.connection.end()
        self._view.clear_pairing(settled=True)
        self._set(state=CLOSED, last_error=reason)
        if snapshot:
            self._flush()
        self._stopping = True

    def _shutdown(self, *, delete: bool, outcome: Future | None = None) -> None:
        self._pairing.cancel_prompt()
        if delete:
            self._delete_here(outcome)
        else:
            self.connection.end()
            self._flush()
        self._stopping = True

    def _delete_here(self, outcome: Future | None) -> None:
        """Unlink the device if it is linked (bounded), then remove the keys; the outcome says how it went."""
        try:
            result = self._unlink()
        except Exception:  # a bug must not keep the keys
            log.exception("[%s] unlinking failed", self.client_id)
            result = not_unlinked("an internal error")
        self.connection.end()
        self._persist.forget_keys()
        if outcome is not None and not outcome.done():
            outcome.set_result(result)

    def _unlink(self) -> Unlinked:
        if self._view.record.jid is None:
            return NOT_LINKED
        if self._view.state in (SYNCING, READY):
            return log_out(self.client_id, self.connection.session)
        self.connection.end()  # a reconnecting session: one brief, bounded attempt instead
        return connect_and_log_out(self._options.backend, self.client_id, self._options.session_path,
                                   self._options.unlink_timeout)

    def _finish(self) -> None:
        self._checks.unwatch(self)
        self.connection.end()
        self.sender.shutdown()
        self._view.release_waiters()

    def _close_inbox(self) -> None:
        """Refuse further commands; a delete that arrived after the last step still removes the keys."""
        with self._accepting_lock:
            self._accepting = False
        self.inbox.close()  # its descriptor goes now; what is in it can still be read
        for message in self.inbox.drain():
            if isinstance(message, Stop) and message.delete:
                self._delete_here(message.outcome)

    # ---- state -------------------------------------------------------------------------------
    def _set(self, **fields) -> None:
        """Change the record, log a state transition, and persist the row."""
        old, new = self._view.update(**fields)
        if new.state != old.state:
            log.info("[%s] %s -> %s%s", self.client_id, old.state, new.state,
                     f" ({new.last_error})" if new.last_error else "")
        self._persist.save_row(new)
        if new.state != old.state:
            self._hearing.state_changed(old.state, new.state, new.last_error)

    def _flush(self, *, force_snapshot: bool = False) -> None:
        self._persist.flush(self._view.record, force_snapshot=force_snapshot)
