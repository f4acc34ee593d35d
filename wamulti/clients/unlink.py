"""Unlinking a deleted client's device at WhatsApp, so that the phone stops listing it.

A connected client logs out on its open session. One that is not connected but still holds keys
(reconnecting, closed after a ban or a stream replacement, or never started since a restart)
connects briefly with them and logs out, within a deadline (UNLINK_SECONDS). Whatever happens, the
caller removes the keys afterwards; the outcome only says whether the phone still lists the device.
Runs on the client's worker thread, or on a thread of its own when the worker is not running:
never on a request thread (a backend's connect/stop may block).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from ..backends.backend_api import (Backend, BackendSession, Connected, Event, LoggedOut, RetryLater, SyncCompleted,
                                    TemporaryBan, Terminated)

log = logging.getLogger(__package__)

UNLINK_SECONDS = 5.0  # longest a delete tries to connect and log out
JOIN_SECONDS = 2.0  # for the brief connection's thread after stop()
STILL_LISTED = "The phone still lists this device under Linked devices: remove it there."


@dataclass(frozen=True)
class Unlinked:
    """What DELETE says about the device at WhatsApp: `unlinked` and a sentence for people."""

    unlinked: bool
    message: str


NOT_LINKED = Unlinked(False, "The client was not linked to a phone: there was nothing to unlink.")
LOGGED_OUT = Unlinked(True, "The device was logged out at WhatsApp; the phone no longer lists it.")
ALREADY_GONE = Unlinked(True, "WhatsApp had already logged the device out; the phone no longer lists it.")


def not_unlinked(why: str) -> Unlinked:
    return Unlinked(False, f"The device could not be logged out ({why}). {STILL_LISTED}")


def not_confirmed(seconds: float) -> Unlinked:
    return not_unlinked(f"no answer within {seconds:g} s")


def log_out(client_id: str, session: BackendSession | None) -> Unlinked:
    """Log out on the open, connected session."""
    if session is None:
        return not_unlinked("no connection")
    try:
        session.logout()
    except Exception as exc:  # best effort: the keys go anyway
        log.warning("[%s] logout failed (%s)", client_id, type(exc).__name__)
        return not_unlinked(f"logout failed: {exc}"[:160])
    return LOGGED_OUT


class _Brief:
    """What a brief connection said: connected, or why it will not be."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.connected = False
        self.ended: str | None = None  # why it will not connect
        self.gone = False  # WhatsApp logged the device out meanwhile

    def emit(self, event: Event) -> None:
        with self._cond:
            match event:
                case Connected() | SyncCompleted():
                    self.connected = True
                case LoggedOut():
                    self.gone, self.ended = True, event.reason
                case Terminated(reason=why) | RetryLater(reason=why) | TemporaryBan(reason=why):
                    self.ended = why
            self._cond.notify_all()

    def end(self, why: str) -> None:
        with self._cond:
            self.ended = self.ended or why
            self._cond.notify_all()

    def wait(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.connected or self.ended is not None, seconds)


def connect_and_log_out(backend: Backend, client_id: str, session_path, seconds: float = UNLINK_SECONDS) -> Unlinked:
    """Open a session over the keys in session_path, wait up to `seconds` for it to connect, log out."""
    if not session_path.exists():
        return not_unlinked("its keys are missing")
    brief = _Brief()
    session = backend.new_session(client_id, session_path, brief.emit)
    thread = threading.Thread(target=_hold, args=(session, brief), name=f"wa-{client_id}-unlink", daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        brief.wait(seconds)
        if brief.gone:
            return ALREADY_GONE
        if not brief.connected:
            return not_unlinked(brief.ended or f"not connected within {seconds:g} s")
        return log_out(client_id, session)
    finally:
        _stop(client_id, session, thread)
        log.info("[%s] unlink attempt took %.1fs", client_id, time.monotonic() - started)


def _hold(session: BackendSession, brief: _Brief) -> None:
    try:
        session.connect()
        brief.end("connection closed")
    except Exception as exc:  # ConnectFailed, or a library surprise: either way no logout
        brief.end(f"connect failed: {exc}"[:160])


def _stop(client_id: str, session: BackendSession, thread: threading.Thread) -> None:
    try:
        session.stop()
    except Exception:
        log.exception("[%s] stopping the unlink session failed", client_id)
    thread.join(JOIN_SECONDS)
