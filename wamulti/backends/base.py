"""What a worker needs from a WhatsApp backend: sessions, their calls, and the events they emit.

Threading contract (the neonize backend depends on it, the simulator honours it too):
- `Backend.new_session` and every `BackendSession` method except `send_text` and `qr_data` are
  called from the client's worker thread or its connection thread, never from a request thread.
- `connect()` runs on the client's connection thread and blocks while the connection lives; it
  returns after `stop()`, and raises `ConnectFailed` when the connection cannot be opened.
- Events are handed to `emit`, which only enqueues; a backend never waits for the worker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable


# ---- events (backend -> worker) -------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """Base class of everything a backend emits."""


@dataclass(frozen=True)
class QrUpdated(Event):
    """A new QR string is waiting to be scanned; phone pairing may be requested from now on."""

    data: str


@dataclass(frozen=True)
class PairSuccess(Event):
    """The phone accepted the pairing; the session file now holds the device keys."""

    jid: str


@dataclass(frozen=True)
class PairFailed(Event):
    """The phone or WhatsApp refused the pairing."""

    reason: str


@dataclass(frozen=True)
class Connected(Event):
    """The logged-in connection is up; offline sync starts."""


@dataclass(frozen=True)
class SyncCompleted(Event):
    """Initial/offline sync finished; the client can send."""


@dataclass(frozen=True)
class Disconnected(Event):
    """A transient loss of the connection; the backend or the worker reconnects."""

    reason: str


@dataclass(frozen=True)
class LoggedOut(Event):
    """The account unlinked this device; its keys are void and must be removed."""

    reason: str = "logged_out"


@dataclass(frozen=True)
class Terminated(Event):
    """A terminal cause (stream_replaced, temporary_ban, connect_failure, client_outdated)."""

    reason: str


@dataclass(frozen=True)
class MessageReceived(Event):
    """An incoming message (kept for future webhooks; the worker only counts it)."""

    sender: str
    text: str


# ---- errors (backend -> worker / API) --------------------------------------------------------
class BackendError(Exception):
    """Base of backend failures; str() is a short, safe reason."""


class ConnectFailed(BackendError):
    """The connection could not be opened (offline, DNS, refused)."""


class PairingError(BackendError):
    """A pairing code could not be obtained."""


class SendFailed(BackendError):
    """WhatsApp refused the message or the send failed."""


class NotConnected(SendFailed):
    """The session has no live connection right now."""


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    timestamp: datetime  # aware, UTC


# ---- interfaces ------------------------------------------------------------------------------
class BackendSession(ABC):
    """One client's connection to WhatsApp, backed by a session file on disk."""

    @abstractmethod
    def connect(self) -> None:
        """Block while connected (connection thread); return after stop(); raise ConnectFailed."""

    @abstractmethod
    def pair_phone(self, phone_digits: str) -> str:
        """Ask for a pairing code 'XXXX-XXXX' for the phone; valid only after a QrUpdated event."""

    @abstractmethod
    def send_text(self, to_jid: str, text: str) -> SentMessage:
        """Send a text message (any thread); raise SendFailed/NotConnected."""

    @abstractmethod
    def logout(self) -> None:
        """Unlink the device at WhatsApp, best effort; raises BackendError if it could not."""

    @abstractmethod
    def stop(self) -> None:
        """Close the connection and release the session (worker thread; idempotent)."""


class Backend(ABC):
    """A factory of sessions; one per process."""

    name: str = ""
    max_failed_connects: int | None = None  # consecutive failed connects before a client is CLOSED

    @abstractmethod
    def new_session(self, client_id: str, session_path: Path, emit: Callable[[Event], None]) -> BackendSession:
        """A session over the file at session_path (restored before this call, or absent if new)."""

    def close(self) -> None:
        """Release process-wide resources at shutdown."""
