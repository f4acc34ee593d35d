"""The real WhatsApp backend on neonize 0.5.2 (whatsmeow in a Go shared library).

Hazards measured in docs/neonize.md drive this module:
- Go keeps its client tables in unlocked maps: `GoLock` (golock.py) is a process-wide readers/writer lock.
  Starts (until the Go side registered the client) and stops are exclusive; every other call is
  shared. Starts are also spaced out. A start holds the lock until connect() returns, its first
  event arrives (QR, Connected, a logout, ban or failure), START_HOLD seconds pass (a dial that
  hangs), or, only when Go logs at DEBUG (LOG_LEVEL=DEBUG), its socket logs "Dialing".
- A NewClient's finalizer stops its uuid when garbage collected, so every session gets a fresh
  uuid, is stopped under the lock, and only then has its finalizer detached.
- get_me() and the contact stores are never called (PairStatusEv carries the JID).
- Every connect() attempt leaks one SQLite descriptor inside the library: failed dials go to the
  connectivity gate (connectivity.py), which stops clients dialling while the network is down and
  pauses dialling past a budget of failed dials; the worker retries with backoff, and never closes.
- Handlers run on Go's threads: they only translate the event and hand it to `emit`.
- Go's log lines go through `GoLogRouter` (golog.py), tagged with their client. Go logs at WARNING
  unless LOG_LEVEL=DEBUG: its level is fixed per session at connect().

One session object per connection attempt: the worker creates a new session for every retry.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import threading
import time
import uuid as uuidlib
from pathlib import Path
from typing import Callable

from . import base as bk
from . import neonize_send
from .connectivity import ConnectivityGate
from .golock import GoLock
from .golog import GoLogRouter
from . import neonize_reasons as reasons
from .neonize_events import translate_message, translate_receipt
from .neonize_pairing import PAIRING_WINDOW, ChildSpec, PairingChildSession

log = logging.getLogger(__name__)

START_SPACING = 0.02  # seconds between two starts
START_HOLD = 3.0  # longest a start keeps other calls out
SYNC_FALLBACK = 20.0  # READY this long after Connected even if OfflineSyncCompleted never comes
REASON_LIMIT = 200


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 3] + "..."


def _raise_fd_limit() -> int:
    """Every failed dial leaks a descriptor inside the library: allow as many as the system does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft if soft != resource.RLIM_INFINITY else 65536


class NeonizeBackend(bk.Backend):
    name = "neonize"
    pairing_window = PAIRING_WINDOW  # whatsmeow's QR schedule (neonize_pairing.py)

    def __init__(self, settings, *, sync_fallback: float = SYNC_FALLBACK, start_spacing: float = START_SPACING,
                 start_hold: float = START_HOLD, dial_budget: int | None = None, pairing_child: ChildSpec | None = None):
        """`dial_budget`: failed dials allowed in this process (default: half the descriptor limit);
        `pairing_child`: how pairing children start (tests only; by default the server's environment)."""
        # neonize reads Go's log level from this logger at each connect(), and Go keeps it for the
        # session's life. At DEBUG every protocol message would be formatted and pushed through cgo
        # and the GIL, so Go runs at WARNING (DEBUG only with LOG_LEVEL=DEBUG); a start then ends
        # at its first event instead of at "Dialing" (see begin_start).
        self._pairing_child = pairing_child or ChildSpec(settings.log_level)
        go_level = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
        logging.getLogger("neonize.utils.log").setLevel(go_level)
        import neonize.client as nc  # imported here: slow (0.3 s), and only when this backend is chosen
        from neonize.proto.Neonize_pb2 import LogEntry

        self._nc = nc
        self._lock = GoLock()
        self._start_gate = threading.Lock()  # serialises starts (and their spacing)
        self._starting: NeonizeSession | None = None
        self._starting_guard = threading.Lock()
        self._last_start = 0.0
        self._sync_fallback = sync_fallback
        self._start_spacing = start_spacing
        self._start_hold = start_hold
        self._router = GoLogRouter(go_level, self._on_dialing, LogEntry.FromString)
        # each failed dial leaks a descriptor for good: past this many, stop dialling at all
        fd_limit = _raise_fd_limit()
        self.connectivity = ConnectivityGate.from_environment(
            dial_budget=fd_limit // 2 if dial_budget is None else dial_budget)

    def new_session(self, client_id: str, session_path: Path, emit: Callable[[bk.Event], None]) -> "NeonizeSession":
        return NeonizeSession(self, client_id, Path(session_path), emit)

    def new_pairing_session(self, client_id: str, session_path: Path, emit: Callable[[bk.Event], None]):
        """A client with no linked device pairs in a child process that stop() can end (docs/neonize.md)."""
        return PairingChildSession(client_id, Path(session_path), emit, self._pairing_child)

    def new_client(self, path: Path, uuid: str):
        """A neonize NewClient over the SQLite file at `path`, keyed by `uuid` on the Go side."""
        return self._nc.NewClient(str(path), uuid=uuid)

    def close(self) -> None:
        self._router.close()
        self.connectivity.close()

    # ---- the start protocol ---------------------------------------------------------------------
    def begin_start(self, session: "NeonizeSession") -> None:
        """Wait for our turn, then hold the lock exclusively until end_start(session)."""
        self._start_gate.acquire()
        wait = self._last_start + self._start_spacing - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # spacing between starts; the gate is ours meanwhile
        self._lock.acquire_exclusive()
        with self._starting_guard:
            self._starting = session
        self._last_start = time.monotonic()
        # the per-client log callback is taken from this module global while connect() sets up
        self._nc.log_whatsmeow = self._router.callback_for(session.client_id)

    def end_start(self, session: "NeonizeSession") -> None:
        """Release a start (idempotent; any thread)."""
        with self._starting_guard:
            if self._starting is not session:
                return
            self._starting = None
        self._lock.release_exclusive()
        self._start_gate.release()

    def _on_dialing(self, client_id: str) -> None:
        with self._starting_guard:
            session = self._starting
        if session is not None and session.client_id == client_id:
            self.end_start(session)

    @property
    def lock(self) -> GoLock:
        return self._lock

    @property
    def library_error(self) -> type[Exception]:
        """neonize's NeonizeError, the base of every error the library raises."""
        return self._nc.NeonizeError

    @property
    def dial_budget(self) -> int:
        """Failed dials this process allows before it refuses to dial at all (read-only)."""
        return self.connectivity.dial_budget

    @property
    def sync_fallback(self) -> float:
        return self._sync_fallback

    @property
    def start_hold(self) -> float:
        return self._start_hold


class NeonizeSession(bk.BackendSession):
    """One NewClient with a uuid of its own, over the client's session file."""

    def __init__(self, backend: NeonizeBackend, client_id: str, path: Path, emit: Callable[[bk.Event], None]):
        from neonize.events import (ClientOutdatedEv, ConnectedEv, ConnectFailureEv, DisconnectedEv,
                                    KeepAliveRestoredEv, KeepAliveTimeoutEv, LoggedOutEv, MessageEv,
                                    OfflineSyncCompletedEv, PairStatusEv, ReceiptEv, StreamReplacedEv,
                                    TemporaryBanEv)

        self.client_id = client_id
        self._backend = backend
        self._emit = emit
        self._lock = backend.lock
        self._state_lock = threading.Lock()
        self._started = False  # connect() was called: the Go side may hold an entry
        self._stopped = False
        self._connected = False
        self._sync_timer: threading.Timer | None = None
        self.uuid = f"{client_id}#{uuidlib.uuid4().hex[:12]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.client = backend.new_client(path, self.uuid)

        on = self.client.event
        on.qr(self._on_qr)
        on(ConnectedEv)(self._on_connected)
        on(OfflineSyncCompletedEv)(lambda _c, _e: self._sync_done())
        on(PairStatusEv)(self._on_pair_status)
        # WhatsApp's reasons are kept (neonize_reasons.py); any of these may be a start's first event
        on(LoggedOutEv)(lambda _c, ev: self._finish(reasons.logged_out(ev)))
        on(StreamReplacedEv)(lambda _c, _e: self._finish(bk.Terminated("stream_replaced")))
        on(TemporaryBanEv)(lambda _c, ev: self._finish(reasons.temporary_ban(ev)))
        on(ConnectFailureEv)(lambda _c, ev: self._finish(reasons.connect_failure(ev)))
        on(ClientOutdatedEv)(lambda _c, _e: self._finish(bk.Terminated("client_outdated")))
        on(DisconnectedEv)(lambda _c, _e: self._on_disconnected(bk.Disconnected("disconnected")))
        on(KeepAliveTimeoutEv)(lambda _c, ev: self._on_keepalive(reasons.keepalive_timeout(ev)))
        on(KeepAliveRestoredEv)(lambda _c, _e: self._on_keepalive(bk.KeepAliveRestored()))
        on(MessageEv)(lambda _c, ev: self._hand_over(translate_message, ev))
        on(ReceiptEv)(lambda _c, ev: self._hand_over(translate_receipt, ev))

    # ---- handlers: Go threads; translate and hand over, never block -----------------------------
    def _release_start(self) -> None:
        self._backend.end_start(self)

    def _on_qr(self, _client, data: bytes) -> None:
        self._release_start()
        self._emit(bk.QrUpdated(data.decode("utf-8", "replace")))

    def _on_connected(self, _client, _ev) -> None:
        self._release_start()
        with self._state_lock:
            self._connected = True
            if self._stopped:
                return
            self._cancel_sync_timer()
            self._sync_timer = threading.Timer(self._backend.sync_fallback, self._sync_done)
            self._sync_timer.daemon = True
            self._sync_timer.name = f"wa-{self.client_id}-sync"
            self._sync_timer.start()
        self._emit(bk.Connected())

    def _sync_done(self) -> None:
        with self._state_lock:
            self._cancel_sync_timer()
            if self._stopped:
                return
        self._emit(bk.SyncCompleted())

    def _cancel_sync_timer(self) -> None:
        if self._sync_timer is not None:
            self._sync_timer.cancel()
            self._sync_timer = None

    def _on_pair_status(self, _client, ev) -> None:
        if ev.Status == ev.SUCCESS:
            self._emit(bk.PairSuccess(f"{ev.ID.User}@{ev.ID.Server or 's.whatsapp.net'}"))
        else:
            self._emit(bk.PairFailed(ev.Error or "pairing refused"))

    def _on_disconnected(self, event: bk.Event) -> None:
        with self._state_lock:
            self._connected = False
            self._cancel_sync_timer()
        self._emit(event)

    def _on_keepalive(self, event: bk.Event) -> None:
        """A missed ping leaves the client as it is; past whatsmeow's limit it is a disconnect."""
        if isinstance(event, bk.Disconnected):
            self._on_disconnected(event)
        else:
            self._emit(event)

    def _finish(self, event: bk.Event) -> None:
        self._release_start()  # e.g. a LoggedOut right after the handshake
        with self._state_lock:
            self._connected = False
            self._cancel_sync_timer()
        self._emit(event)

    def _hand_over(self, translate, ev) -> None:
        """A message or receipt: emit returns once it is stored, and only then does whatsmeow ack it."""
        event = translate(ev)  # never raises; None for what is not reported
        if event is None:
            return
        try:
            self._emit(event)
        except Exception:  # nothing may raise into Go's callback
            log.exception("[%s] an incoming %s was not handed over", self.client_id, type(event).__name__)

    # ---- calls -------------------------------------------------------------------------------------
    def connect(self) -> None:
        with self._state_lock:
            if self._stopped:
                return
            self._started = True
        if (paused := self._backend.connectivity.paused()) is not None:
            raise bk.ConnectFailed(paused)
        self._backend.begin_start(self)
        hold = threading.Timer(self._backend.start_hold, self._release_start)
        hold.daemon = True
        hold.start()
        try:
            self.client.connect()
        except self._backend.library_error as exc:
            self._backend.connectivity.dial_failed(str(exc))
            raise bk.ConnectFailed(_short(exc)) from None
        finally:
            hold.cancel()
            self._release_start()

    def pair_phone(self, phone_digits: str) -> str:
        with self._lock.shared():
            if self._stopped:
                raise bk.PairingError("session stopped")
            try:
                return self.client.PairPhone(phone_digits, show_push_notification=True)
            except self._backend.library_error as exc:
                raise bk.PairingError(_short(exc)) from None

    def send_text(self, to_jid: str, text: str, message_id: str | None = None) -> bk.SentMessage:
        """A plain `conversation` text to the JID as given; `message_id` cannot be used: neonize 0.5.2
        has no way to send with a chosen id, so whatsmeow's own id is returned (neonize_send.py)."""
        with self._send_call():
            wa_id, when = neonize_send.send_text(self.client, to_jid, text)
        return bk.SentMessage(message_id=wa_id, timestamp=when)

    def lookup_phone(self, digits: str) -> str | None:
        with self._send_call():
            return neonize_send.lookup_phone(self.client, digits, self._backend.library_error)

    @contextlib.contextmanager
    def _send_call(self):
        """A network call of a send under the shared lock, on a started session; library errors
        become NotConnected / SendFailed."""
        with self._lock.shared():
            with self._state_lock:
                if self._stopped or not self._started:
                    raise bk.NotConnected("not connected")
            try:
                yield
            except self._backend.library_error as exc:
                reason = _short(exc)
                if "not connected" in reason or "client is nil" in reason:
                    raise bk.NotConnected(reason) from None
                raise bk.SendFailed(reason) from None

    def logout(self) -> None:
        with self._lock.shared():
            if self._stopped or not self._started:
                raise bk.BackendError("not connected")
            try:
                self.client.logout()
            except self._backend.library_error as exc:
                raise bk.BackendError(_short(exc)) from None

    def stop(self) -> None:
        """Stop under the exclusive lock, then detach the finalizer (a later GC must not stop a reused uuid)."""
        with self._state_lock:
            if self._stopped:
                return
            self._stopped = True
            self._connected = False
            self._cancel_sync_timer()
            started = self._started
        if started:
            with self._lock.exclusive():
                self.client.stop()
        self.client._stop_finalizer.detach()

    @property
    def stopped(self) -> bool:
        """stop() has been called (read-only)."""
        return self._stopped
