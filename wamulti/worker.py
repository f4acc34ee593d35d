"""ClientWorker: one thread per client that owns its backend session and its state machine.

The worker thread (`wa-<clientId>`) is the only place where the client's state changes and where
the backend's lifecycle is driven (new session, pair, stop). Backend events, console answers and
commands arrive through one inbox queue; timers (backoff, pairing timeout, snapshot checks) are
deadlines that bound the wait on that queue, so nothing sleeps to poll. Connections run on a
second thread (`wa-<clientId>-conn`) because a backend's connect() blocks while it is connected.

A CLOSED client keeps no thread: its worker object only answers status; pair() starts a thread.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from . import sessionfile
from .backends import base as bk
from .errors import NotReady, Upstream
from .store.base import ClientRecord, SessionStore, StoreError

log = logging.getLogger(__name__)

CONNECTING, PAIRING, SYNCING, READY, CLOSED = "CONNECTING", "PAIRING", "SYNCING", "READY", "CLOSED"
BACKOFF_FIRST, BACKOFF_CAP = 1.0, 60.0
SNAPSHOT_INTERVAL = 3.0
SEND_TIMEOUT = 20.0
SEND_THREADS = 4
STOP_JOIN_SECONDS = 5.0


@dataclass(frozen=True)
class ClientStatus:
    """What the API shows of a client."""

    client_id: str
    state: str
    pairing_code: str | None
    phone: str | None
    jid: str | None
    last_error: str | None
    updated_at: datetime | None


# ---- inbox messages (besides backend events) ------------------------------------------------
@dataclass(frozen=True)
class _ConnectionEnded:
    generation: int
    error: str | None


@dataclass(frozen=True)
class _PhoneAnswer:
    digits: str | None
    reason: str | None


@dataclass(frozen=True)
class _Stop:
    delete: bool


@dataclass(frozen=True)
class _Repair:
    phone: str | None


@dataclass(frozen=True)
class _FromSession:
    generation: int
    event: bk.Event


def backoff_delay(attempt: int, rng=random.random) -> float:
    """1 s doubling to 60 s, with +-20 % jitter so reconnecting clients do not move in step."""
    base = min(BACKOFF_CAP, BACKOFF_FIRST * (2 ** max(0, attempt - 1)))
    return base * (0.8 + 0.4 * rng())


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ClientWorker:
    """One client: its state, its thread, its backend session and its persisted data."""

    def __init__(self, record: ClientRecord, *, backend: bk.Backend, store: SessionStore, prompter,
                 data_dir: Path, pairing_timeout: float, send_timeout: float = SEND_TIMEOUT,
                 snapshot_interval: float = SNAPSHOT_INTERVAL):
        self.client_id = record.client_id
        self._backend = backend
        self._store = store
        self._prompter = prompter
        self._pairing_timeout = pairing_timeout
        self._send_timeout = send_timeout
        self._snapshot_interval = snapshot_interval
        self.session_path = Path(data_dir) / "sessions" / f"{record.client_id}.session"

        self._lock = threading.Lock()  # guards the fields below; never held across I/O
        self._changed = threading.Condition(self._lock)
        self._record = record
        self._pairing_code: str | None = None
        self._qr: str | None = None
        self._pair_settled = False  # a code was issued, or pairing ended, since the last pair request
        self._session: bk.BackendSession | None = None
        self._thread: threading.Thread | None = None
        self._deleted = False

        # worker-thread-only fields
        self._inbox: queue.Queue = queue.Queue()
        self._generation = 0
        self._conn_thread: threading.Thread | None = None
        self._pair_phone: str | None = None  # digits waiting for a QR window
        self._console_pairing = False
        self._prompt_ticket = None
        self._attempt = 0
        self._timers: dict[str, float] = {}
        self._row_dirty = False
        self._saved_sha: str | None = None
        self._saved_signature = None
        self._snapshot_pending = False
        self._stopping = False
        self._persist_lock = threading.Lock()  # makes "deleted" and a store write mutually exclusive
        self._sender = self._new_sender()

    def _new_sender(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix=f"wa-{self.client_id}-send")

    # ---- queries (any thread) ---------------------------------------------------------------
    def status(self) -> ClientStatus:
        with self._lock:
            r = self._record
            return ClientStatus(r.client_id, r.state, self._pairing_code, r.phone, r.jid, r.last_error, r.updated_at)

    @property
    def state(self) -> str:
        with self._lock:
            return self._record.state

    def qr(self) -> str | None:
        with self._lock:
            return self._qr if self._record.state in (CONNECTING, PAIRING) else None

    def is_running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def wait_for_pairing_code(self, timeout: float) -> None:
        """Block (a request thread) until a code was issued or pairing ended, at most timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._pair_settled:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def wait_for_state(self, states: set[str], timeout: float) -> bool:
        """Block until the state is one of states; True if it got there in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._record.state not in states:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    # ---- commands (any thread) --------------------------------------------------------------
    def start(self, *, phone: str | None = None, delay: float = 0.0, repair: bool = False) -> None:
        """Start the worker thread; with repair, forget the old pairing and pair anew."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("worker already running")
            if self._deleted:
                raise RuntimeError("worker was deleted")
            self._pair_settled = False
            self._pairing_code = None
            self._qr = None
            # a finished thread left these behind; nothing else touches them while no thread runs
            self._inbox, self._timers, self._stopping = queue.Queue(), {}, False
            self._attempt, self._prompt_ticket, self._console_pairing = 0, None, False
            self._sender = self._new_sender()
            self._thread = threading.Thread(target=self._run, args=(phone, delay, repair),
                                            name=f"wa-{self.client_id}", daemon=True)
            thread = self._thread
        thread.start()

    def pair(self, phone: str | None) -> None:
        """Pair again: restart a running, unpaired attempt, or start a CLOSED client.

        A CLOSED client that still holds keys and gets no phone reconnects with them; a phone
        always means a fresh pairing.
        """
        with self._lock:
            running = self._thread is not None and self._thread.is_alive()
            if running:
                self._pair_settled, self._pairing_code = False, None
        if running:
            self._inbox.put(_Repair(phone))
        else:
            self.start(phone=phone, repair=phone is not None)

    def block_writes(self, blocked: bool = True) -> None:
        """Before a delete: let an in-flight store write finish, then write nothing more."""
        with self._persist_lock, self._lock:
            self._deleted = blocked

    def stop(self, *, delete: bool = False) -> None:
        """Ask the worker to stop (and with delete, to log out and remove its data); returns at once."""
        if delete:
            self.block_writes()
        with self._lock:
            running = self._thread is not None and self._thread.is_alive()
        if running:
            self._inbox.put(_Stop(delete))
        elif delete:
            sessionfile.remove_session_file(self.session_path)
        if not running:
            self._sender.shutdown(wait=False)

    def join(self, timeout: float) -> bool:
        """Wait for the worker thread to end; True if it did."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def send_text(self, to_jid: str, text: str) -> bk.SentMessage:
        """Send on the caller's thread budget: bounded by SEND_TIMEOUT, never blocking other clients."""
        with self._lock:
            state, session = self._record.state, self._session
        if state != READY or session is None:
            raise NotReady(f"Client '{self.client_id}' is {state}, not READY.", current_state=state)
        try:
            future = self._sender.submit(session.send_text, to_jid, text)
        except RuntimeError:  # executor shut down: the client is being stopped
            raise NotReady(f"Client '{self.client_id}' is stopping.", current_state=CLOSED) from None
        try:
            return future.result(timeout=self._send_timeout)
        except FutureTimeout:
            raise Upstream(f"WhatsApp did not confirm the message within {self._send_timeout:g} seconds.") from None
        except bk.NotConnected as exc:
            raise Upstream(f"The client is not connected to WhatsApp: {exc}") from None
        except bk.BackendError as exc:
            raise Upstream(f"WhatsApp refused or failed the send: {exc}") from None

    # ---- the worker thread ------------------------------------------------------------------
    def _run(self, phone: str | None, delay: float, repair: bool) -> None:
        try:
            self._begin(phone, delay, repair)
            while not self._stopping:
                self._step()
        except Exception:  # a bug must not leave a zombie client: log it and close the client
            log.exception("[%s] worker failed", self.client_id)
            self._close("internal_error")
        finally:
            self._finish()

    def _begin(self, phone: str | None, delay: float, repair: bool) -> None:
        self._timers["snapshot"] = time.monotonic() + self._snapshot_interval
        if repair:
            self._forget_session()
        if self._record.jid is not None:
            if self._restore_session_file():
                self._set(state=CONNECTING, last_error=None)
                self._timers["connect"] = time.monotonic() + delay
        else:
            self._start_pairing(phone, delay)

    def _start_pairing(self, phone: str | None, delay: float = 0.0) -> None:
        """Pair by phone (code once a QR window opens) or ask the console for the number first."""
        self._console_pairing = phone is None
        if phone is not None:
            self._pair_phone = phone
            self._set(state=CONNECTING, phone=phone, last_error=None)
            self._timers["connect"] = time.monotonic() + delay
        else:
            self._set(state=PAIRING, last_error=None)
            self._prompt_ticket = self._prompter.request_phone(
                self.client_id, lambda digits, reason: self._inbox.put(_PhoneAnswer(digits, reason)))

    def _restart_pairing(self, phone: str | None) -> None:
        """A new pairing attempt for an unpaired, running client: the old attempt is released."""
        self._cancel_prompt()
        self._end_session()
        for name in ("pairing", "connect"):
            self._timers.pop(name, None)
        with self._lock:
            self._pairing_code, self._qr = None, None
        self._pair_phone = None
        self._forget_session()
        self._start_pairing(phone)

    def _forget_session(self) -> None:
        """Drop the working copy of the keys before a fresh pairing (the store's copy stays until then)."""
        sessionfile.remove_session_file(self.session_path)
        self._saved_sha, self._saved_signature = None, None
        if self._record.jid is not None:
            self._set(jid=None)

    def _step(self) -> None:
        now = time.monotonic()
        due = [name for name, at in self._timers.items() if at <= now]
        for name in due:
            del self._timers[name]
            self._on_timer(name)
        if self._stopping:
            return
        wait = max(0.0, min(self._timers.values(), default=now + 3600) - time.monotonic())
        try:
            item = self._inbox.get(timeout=wait)
        except queue.Empty:
            return
        self._handle(item)

    def _handle(self, item) -> None:
        if isinstance(item, _Stop):
            self._shutdown(delete=item.delete)
        elif isinstance(item, _FromSession):
            if item.generation == self._generation:
                self._on_event(item.event)
        elif isinstance(item, _ConnectionEnded):
            if item.generation == self._generation:
                self._on_connection_ended(item.error)
        elif isinstance(item, _PhoneAnswer):
            self._on_phone_answer(item.digits, item.reason)
        elif isinstance(item, _Repair):
            self._restart_pairing(item.phone)

    def _on_timer(self, name: str) -> None:
        if name == "connect":
            self._open_connection()
        elif name == "pairing":
            log.info("[%s] pairing code not entered within %gs", self.client_id, self._pairing_timeout)
            self._close("pairing_timeout")
        elif name == "snapshot":
            self._flush()
            self._timers["snapshot"] = time.monotonic() + self._snapshot_interval

    def _open_connection(self) -> None:
        self._end_session()
        self._generation += 1
        generation = self._generation
        session = self._backend.new_session(
            self.client_id, self.session_path, lambda ev: self._inbox.put(_FromSession(generation, ev)))
        with self._lock:
            self._session = session
        self._conn_thread = threading.Thread(target=self._connection_main, args=(session, generation),
                                             name=f"wa-{self.client_id}-conn", daemon=True)
        self._conn_thread.start()

    def _connection_main(self, session: bk.BackendSession, generation: int) -> None:
        """Runs on the connection thread: block in connect(), then report how it ended."""
        error = None
        try:
            session.connect()
        except bk.BackendError as exc:
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # never let a library surprise kill the thread silently
            log.exception("[%s] connect crashed", self.client_id)
            error = type(exc).__name__
        self._inbox.put(_ConnectionEnded(generation, error))

    def _on_connection_ended(self, error: str | None) -> None:
        self._end_session()
        self._attempt += 1
        reason = f"connect_failed: {error}" if error else "disconnected"
        limit = self._backend.max_failed_connects
        if error and limit is not None and self._attempt >= limit:
            self._close(f"{reason} (gave up after {self._attempt} attempts; POST .../pair to retry)")
            return
        delay = backoff_delay(self._attempt)
        log.info("[%s] connection ended (%s); retry %d in %.1fs", self.client_id, reason, self._attempt, delay)
        with self._lock:
            self._pair_settled = True  # a caller waiting for a code learns of the failure now, not in 15 s
        self._set(state=CONNECTING, last_error=reason)
        self._timers["connect"] = time.monotonic() + delay

    def _on_phone_answer(self, digits: str | None, reason: str | None) -> None:
        self._prompt_ticket = None
        if digits is None:
            self._close(reason or "no_phone_number")
            return
        self._pair_phone = digits
        self._set(state=CONNECTING, phone=digits)
        self._open_connection()

    def _on_event(self, ev: bk.Event) -> None:
        if isinstance(ev, bk.QrUpdated):
            self._on_qr(ev.data)
        elif isinstance(ev, bk.PairSuccess):
            self._timers.pop("pairing", None)
            with self._lock:
                self._pairing_code, self._qr, self._pair_settled = None, None, True
            self._pair_phone = None
            self._set(state=CONNECTING, jid=ev.jid, last_error=None)
            log.info("[%s] paired", self.client_id)
            self._flush(force_snapshot=True)
        elif isinstance(ev, bk.PairFailed):
            self._close(f"pairing_failed: {ev.reason}" if ev.reason else "pairing_failed")
        elif isinstance(ev, bk.Connected):
            self._attempt = 0
            self._set(state=SYNCING, last_error=None)
        elif isinstance(ev, bk.SyncCompleted):
            self._set(state=READY, last_error=None)
        elif isinstance(ev, bk.Disconnected):
            self._set(state=CONNECTING, last_error=ev.reason)
        elif isinstance(ev, bk.LoggedOut):
            self._on_logged_out(ev.reason)
        elif isinstance(ev, bk.Terminated):
            self._close(ev.reason)

    def _on_qr(self, data: str) -> None:
        with self._lock:
            self._qr = data
        if self._pair_phone is None or self._pairing_code is not None:
            if self._record.state == CONNECTING:
                self._set(state=PAIRING)
            return
        try:
            code = self._session.pair_phone(self._pair_phone)
        except bk.BackendError as exc:
            self._close(f"pairing_failed: {exc}")
            return
        if self._console_pairing:
            self._prompter.show_pairing_code(self.client_id, code)
        with self._lock:
            self._pairing_code, self._pair_settled = code, True
        self._set(state=PAIRING, last_error=None)
        self._timers["pairing"] = time.monotonic() + self._pairing_timeout

    def _on_logged_out(self, reason: str) -> None:
        log.warning("[%s] logged out by WhatsApp (%s); removing its session keys", self.client_id, reason)
        self._end_session()
        sessionfile.remove_session_file(self.session_path)
        self._saved_sha, self._saved_signature = None, None
        try:
            self._store.delete_snapshot(self.client_id)
        except StoreError as exc:
            log.warning("[%s] could not remove the stored snapshot yet: %s", self.client_id, exc)
        self._set(jid=None)
        self._close("logged_out", snapshot=False)

    # ---- ending ------------------------------------------------------------------------------
    def _close(self, reason: str, *, snapshot: bool = True) -> None:
        """Go to CLOSED with a reason; the thread ends after this step."""
        self._cancel_prompt()
        self._end_session()
        with self._lock:
            self._pairing_code, self._qr, self._pair_settled = None, None, True
        self._set(state=CLOSED, last_error=reason)
        if snapshot:
            self._flush()
        self._stopping = True

    def _shutdown(self, *, delete: bool) -> None:
        self._cancel_prompt()
        if delete:
            self._logout()
        self._end_session()
        if delete:
            sessionfile.remove_session_file(self.session_path)
        else:
            self._flush()
        self._stopping = True

    def _logout(self) -> None:
        with self._lock:
            session, state = self._session, self._record.state
        if session is None or state not in (SYNCING, READY):
            return
        try:
            session.logout()
        except Exception as exc:  # best effort: the local data goes anyway
            log.warning("[%s] logout failed (%s); removing local data anyway", self.client_id, type(exc).__name__)

    def _cancel_prompt(self) -> None:
        if self._prompt_ticket is not None:
            self._prompter.cancel(self._prompt_ticket)
            self._prompt_ticket = None

    def _end_session(self) -> None:
        """Stop the current session (worker thread only) and wait a bounded time for its thread."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            try:
                session.stop()
            except Exception:
                log.exception("[%s] stopping the session failed", self.client_id)
        if self._conn_thread is not None:
            self._conn_thread.join(STOP_JOIN_SECONDS)
            if self._conn_thread.is_alive():
                log.warning("[%s] connection thread still running after %gs", self.client_id, STOP_JOIN_SECONDS)
            self._conn_thread = None
        self._generation += 1  # anything the old session still says is ignored

    def _finish(self) -> None:
        self._end_session()
        self._sender.shutdown(wait=False)
        with self._changed:
            self._pair_settled = True
            self._changed.notify_all()

    # ---- state and persistence ---------------------------------------------------------------
    def _set(self, **fields) -> None:
        """Change the record (worker thread), log a state transition, and persist the row."""
        with self._changed:
            old = self._record
            new = replace(old, **fields, updated_at=_now())
            self._record = new
            self._changed.notify_all()
        if new.state != old.state:
            log.info("[%s] %s -> %s%s", self.client_id, old.state, new.state,
                     f" ({new.last_error})" if new.last_error else "")
        self._row_dirty = True
        self._save_row()

    def _save_row(self) -> None:
        with self._persist_lock:
            with self._lock:
                if self._deleted:
                    return
                record = self._record
            try:
                self._store.save_client(record)
                self._row_dirty = False
            except StoreError as exc:
                log.warning("[%s] state not saved yet (%s); will retry", self.client_id, exc)

    def _restore_session_file(self) -> bool:
        """Write the stored snapshot to the working file; False (and CLOSED) when there is none."""
        try:
            snap = self._store.load_snapshot(self.client_id)
        except StoreError as exc:
            if self.session_path.exists():  # the working copy is as good as the store's
                log.warning("[%s] snapshot not loaded (%s); using the local copy", self.client_id, exc)
                return True
            raise
        if snap is None:
            if self.session_path.exists():
                return True
            self._close("session_missing", snapshot=False)
            return False
        self._saved_sha = sessionfile.restore_snapshot(self.session_path, snap.data)
        self._saved_signature = sessionfile.file_signature(self.session_path)
        return True

    def _flush(self, *, force_snapshot: bool = False) -> None:
        """Write what the store lacks: a dirty row, and the session file if it changed."""
        if self._row_dirty:
            self._save_row()
        if self._record.jid is None:
            return
        signature = sessionfile.file_signature(self.session_path)
        if signature is None:
            return
        if not (force_snapshot or self._snapshot_pending or signature != self._saved_signature):
            return
        try:
            snap = sessionfile.read_snapshot(self.session_path)
        except sessionfile.SnapshotFailed as exc:
            log.warning("[%s] %s", self.client_id, exc)
            self._snapshot_pending = True
            return
        if snap.sha256 != self._saved_sha:
            with self._persist_lock:
                with self._lock:
                    if self._deleted:
                        return
                try:
                    self._store.save_snapshot(self.client_id, snap.data, snap.sha256)
                except StoreError as exc:
                    log.warning("[%s] snapshot not saved yet (%s); will retry", self.client_id, exc)
                    self._snapshot_pending = True
                    return
            log.debug("[%s] snapshot saved (%d bytes)", self.client_id, len(snap.data))
            self._saved_sha = snap.sha256
        self._saved_signature = signature
        self._snapshot_pending = False
