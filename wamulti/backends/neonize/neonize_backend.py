"""The real WhatsApp backend on neonize 0.5.2 (whatsmeow in a Go shared library).

Hazards measured in docs/neonize.md drive this module:
- Go keeps its client tables in unlocked maps: `GoLock` (golock.py), a process-wide readers/writer
  lock, is taken at the boundary of each Go call (`GoCalls`, gocalls.py) only while Go uses
  the maps. A lookup call (send, number lookup, pairing code, logout) is shared until it returns,
  or until a waiting writer has seen it inside Go for ENTRY_MARGIN: its network wait holds nobody
  up. A start (starts.py, with the bounds) is exclusive until Go registered its client
  ("Dialing" at DEBUG, or seen in Go for REGISTER_HOLD), then keeps writers out, not lookups, until
  its Go code read the maps for the last time (connect() returned, Go called back) or START_SETTLE
  passed. A stop disconnects (a call), waits for its own start's Go code, then runs Stop exclusively.
- A NewClient's finalizer stops its uuid when garbage collected, so every session gets a fresh
  uuid, is stopped under the lock, and only then has its finalizer detached.
- get_me() and the contact store run only while the session has its Go entry, and stop() waits for
  them (conversation.py, EntryCalls); the JID comes from PairStatusEv.
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
import uuid as uuidlib
from pathlib import Path
from typing import Callable

from ...seams import neonize_internals as neonize_seam
from .. import backend_api as bk
from ..connectivity import ConnectivityGate
from ..reasons import clip
from . import outgoing
from .conversation import ENTRY_CLOSE_WAIT, EntryCalls, NeonizeConversation
from .media_calls import NeonizeMedia
from . import wa_reasons
from .gocalls import GoCalls, threads_in_go
from .golock import Deadlines, GoLock, StartHold
from .golog import GoLogRouter
from .group_listening import NeonizeGroupEvents
from .incoming import translate_message, translate_receipt
from .incoming_signals import translate_call, translate_chat_presence, translate_presence
from .pairing_children import PAIRING_WINDOW, ChildSpec, PairingChildSession
from .starts import LockBounds, Starts, StoppedBeforeStart

log = logging.getLogger(__name__)

START_SPACING = 0.02  # seconds between two starts
STOP_WAIT = 10.0  # a stop waits this long for its own start's Go code to read the maps for the last time
SYNC_FALLBACK = 20.0  # READY this long after Connected even if OfflineSyncCompleted never comes


def _short(exc: BaseException) -> str:
    return clip(str(exc)) or type(exc).__name__


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
    pairing_window = PAIRING_WINDOW  # whatsmeow's QR schedule (pairing_children.py)

    def __init__(self, settings, *, sync_fallback: float = SYNC_FALLBACK, start_spacing: float = START_SPACING,
                 bounds: LockBounds = LockBounds(),
                 dial_budget: int | None = None, pairing_child: ChildSpec | None = None):
        """`bounds`: how long the Go lock is held (starts.py, the module docstring);
        `dial_budget`: failed dials allowed in this process (default: half the descriptor limit);
        `pairing_child`: how pairing children start (tests only; by default the server's environment)."""
        # neonize reads Go's log level from this logger at each connect(), and Go keeps it for the
        # session's life. At DEBUG every protocol message would be formatted and pushed through cgo
        # and the GIL, so Go runs at WARNING (DEBUG only with LOG_LEVEL=DEBUG); a start then counts
        # as registered after a measured bound instead of at "Dialing" (starts.py).
        self._pairing_child = pairing_child or ChildSpec(settings.log_level)
        go_level = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
        logging.getLogger("neonize.utils.log").setLevel(go_level)
        import neonize.client as nc  # imported here: slow (0.3 s), and only when this backend is chosen
        from neonize.proto.Neonize_pb2 import LogEntry

        self._nc = nc
        self._lock = GoLock(threads_in_go, bounds.entry_margin)
        self._deadlines = Deadlines()
        self._sync_fallback = sync_fallback
        self._starts = Starts(self._lock, self._deadlines, spacing=start_spacing, bounds=bounds,
                              before_start=self._route_go_log_to)
        self._router = GoLogRouter(go_level, self._starts.registered, LogEntry.FromString)
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
        self._deadlines.close()
        self.connectivity.close()

    def go_calls_for(self, session: "NeonizeSession") -> GoCalls:
        """Put the lock between the session's neonize client and Go (gocalls.py)."""
        calls = GoCalls.install(session.client, self._lock, session.entering_start, session.start_returned)
        neonize_seam.replace_contact_library(session.client, calls)  # the contact store calls Go directly
        return calls

    # ---- the start protocol (starts.py) ----------------------------------------------------
    def begin_start(self, session: "NeonizeSession") -> StartHold:
        """Wait for the session's turn; its StartHold takes the lock as the start enters Go."""
        return self._starts.begin(session, session.fresh_file)

    def end_start(self, session: "NeonizeSession") -> None:
        """End the session's start if it is the one in progress (idempotent; any thread)."""
        self._starts.end(session)

    def _route_go_log_to(self, client_id: str) -> None:
        # connect() takes the per-client log callback from this module global while it sets up
        neonize_seam.route_go_log(self._nc, self._router.callback_for(client_id))

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


class NeonizeSession(NeonizeMedia, NeonizeConversation, NeonizeGroupEvents, bk.BackendSession):
    """One NewClient with a uuid of its own, over the client's session file."""

    def __init__(self, backend: NeonizeBackend, client_id: str, path: Path, emit: Callable[[bk.Event], None]):
        self.client_id = client_id
        self._backend = backend
        self._emit = emit
        self._state_lock = threading.Lock()
        self._started = False  # connect() was called
        self._entered = False  # the start entered Go: the Go side may hold an entry
        self._start: StartHold | None = None
        self._stopped = False
        self._connected = False
        self._sync_timer: threading.Timer | None = None
        self._entry_calls = EntryCalls()  # get_me / contact store calls: stop() waits for them
        self.uuid = f"{client_id}#{uuidlib.uuid4().hex[:12]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fresh_file = not path.exists() or path.stat().st_size == 0  # Go creates its tables first
        self.client = backend.new_client(path, self.uuid)
        backend.go_calls_for(self)
        neonize_seam.before_each_event(self.client, self._go_done_with_start)  # Go calls back after its last map read
        self._listen()

    def _listen(self) -> None:
        """Register a handler for every event type the session reports (before connect(), as neonize wants)."""
        from neonize.events import (CallOfferEv, ChatPresenceEv, ClientOutdatedEv, ConnectedEv, ConnectFailureEv,
                                    DisconnectedEv, KeepAliveRestoredEv, KeepAliveTimeoutEv, LoggedOutEv,
                                    MessageEv, OfflineSyncCompletedEv, PairStatusEv, PresenceEv, ReceiptEv,
                                    StreamReplacedEv, TemporaryBanEv)
        on = self.client.event
        on.qr(self._on_qr)
        on(ConnectedEv)(self._on_connected)
        on(OfflineSyncCompletedEv)(lambda _c, _e: self._sync_done())
        on(PairStatusEv)(self._on_pair_status)
        # WhatsApp's reasons are kept (wa_reasons.py)
        on(LoggedOutEv)(lambda _c, ev: self._finish(wa_reasons.logged_out(ev)))
        on(StreamReplacedEv)(lambda _c, _e: self._finish(bk.Terminated("stream_replaced")))
        on(TemporaryBanEv)(lambda _c, ev: self._finish(wa_reasons.temporary_ban(ev)))
        on(ConnectFailureEv)(lambda _c, ev: self._finish(wa_reasons.connect_failure(ev)))
        on(ClientOutdatedEv)(lambda _c, _e: self._finish(bk.Terminated("client_outdated")))
        on(DisconnectedEv)(lambda _c, _e: self._on_disconnected(bk.Disconnected("disconnected")))
        on(KeepAliveTimeoutEv)(lambda _c, ev: self._on_keepalive(wa_reasons.keepalive_timeout(ev)))
        on(KeepAliveRestoredEv)(lambda _c, _e: self._on_keepalive(bk.KeepAliveRestored()))
        # what the client hears: translated and handed over on Go's thread (incoming*.py)
        for event_type, translate in ((MessageEv, translate_message), (ReceiptEv, translate_receipt),
                                      (PresenceEv, translate_presence), (ChatPresenceEv, translate_chat_presence),
                                      (CallOfferEv, translate_call)):
            on(event_type)(lambda _c, ev, translate=translate: self._hand_over(translate, ev))
        self._groups = self._listen_to_groups(on)

    # ---- the start as Go sees it -----------------------------------------------------------------
    def _go_done_with_start(self) -> None:
        start = self._start
        if start is not None and not start.finished.is_set():
            start.over(seen=True)

    def entering_start(self) -> None:
        """Right before Neonize enters Go (GoCalls, on neonize's connect thread): a session stopped
        meanwhile stays out of Go; otherwise the start takes the lock."""
        with self._state_lock:
            if self._stopped:
                raise StoppedBeforeStart()
            self._entered = True
        if not self._start.enter():
            with self._state_lock:
                self._entered = False
            raise StoppedBeforeStart()

    def start_returned(self) -> None:
        """Neonize returned: nothing of this start is left in Go."""
        self._go_done_with_start()

    # ---- handlers: Go threads; translate and hand over, never block -----------------------------
    def _on_qr(self, _client, data: bytes) -> None:
        # A QR comes from the login loop, before Go's last map read (that follows the pairing, or
        # never): the start cannot wait for it (docs/neonize.md)
        self._go_done_with_start()
        self._emit(bk.QrUpdated(data.decode("utf-8", "replace")))

    def _on_connected(self, _client, _ev) -> None:
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
        self._start = self._backend.begin_start(self)  # the lock itself is taken as Go is entered
        try:
            self.client.connect()
        except StoppedBeforeStart:
            return
        except self._backend.library_error as exc:
            self._backend.connectivity.dial_failed(str(exc))
            raise bk.ConnectFailed(_short(exc)) from None
        finally:
            self._start.over(seen=True)

    def pair_phone(self, phone_digits: str) -> str:
        if self._stopped:
            raise bk.PairingError("session stopped")
        try:
            return self.client.PairPhone(phone_digits, show_push_notification=True)
        except self._backend.library_error as exc:
            raise bk.PairingError(_short(exc)) from None

    @contextlib.contextmanager
    def _send_call(self):
        """A network call of a send on a started session (GoCalls holds the lock for its lookup);
        library errors become NotConnected / SendFailed. A stop that comes in between leaves Go
        without the client: whatsmeow then answers "client is nil"."""
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
        if self._stopped or not self._started:
            raise bk.BackendError("not connected")
        try:
            self.client.logout()
        except self._backend.library_error as exc:
            raise bk.BackendError(_short(exc)) from None

    def stop(self) -> None:
        """Take the client out of Go if the start got there, then detach the finalizer (a later GC
        must not stop a reused uuid)."""
        with self._state_lock:
            if self._stopped:
                return
            self._stopped = True
            self._connected = False
            self._cancel_sync_timer()
            entered = self._entered
        if not self._entry_calls.close():
            log.warning("[%s] a contact/profile read still ran after %gs; stopping anyway", self.client_id,
                        ENTRY_CLOSE_WAIT)
        if entered:
            self._stop_in_go(self._start)
        neonize_seam.detach_stop_on_collect(self.client)

    def _stop_in_go(self, start: StartHold) -> None:
        """Disconnect first (a lookup: shared and bounded; it returns once a dial in flight has
        ended), let this start's own Go code read the maps for the last time, then Stop, which
        removes the client (exclusive) and is quick now that there is nothing left to disconnect."""
        if not start.past_registration.wait(STOP_WAIT):
            log.warning("[%s] the start did not register within %gs; stopping anyway", self.client_id, STOP_WAIT)
        try:
            self.client.disconnect()
        except self._backend.library_error:
            pass  # Stop disconnects again
        if not start.finished.wait(STOP_WAIT):
            log.warning("[%s] the start's Go code was still running after %gs; stopping anyway",
                        self.client_id, STOP_WAIT)
        self.client.stop()

    def _has_go_entry(self) -> bool:
        """Whether Go holds this client now (hazard 2: get_me and the contact store need it)."""
        with self._state_lock:
            return self._entered and self._connected and not self._stopped

    @property
    def stopped(self) -> bool:
        """stop() has been called (read-only)."""
        return self._stopped
