"""What a worker needs from a WhatsApp backend: sessions, their calls, and the events they emit.

Threading contract (the neonize backend depends on it, the simulator honours it too):
- `Backend.new_session` and every `BackendSession` method except `send_text`, `send_message`,
  `upload`, `mark_read`, `lookup_phone`, `download`, `qr_data` and the lookups (`send_presence`, `check_numbers`,
  `contacts`, `picture_url`, `profile`) are called from the client's worker thread or its connection
  thread, never from a request thread. The first five run on the client's send threads.
  `download` runs on the process-wide media download pool (`wa-media_N`, hearing/media_intake.py),
  never on the worker thread nor on a thread of the backend's own (Go's callbacks): it may block
  for the whole transfer, and may be called on a session that was stopped meanwhile
  (DownloadFailed then). The lookups run on request threads, and only while the client is READY (a
  stop may still race them: a backend keeps them safe against its own stop()).
- `connect()` runs on the client's connection thread and blocks while the connection lives; it
  returns after `stop()`, and raises `ConnectFailed` when the connection cannot be opened.
- Events are handed to `emit`, which only enqueues; a backend never waits for the worker.
  `emit` may be called from any thread the backend owns (the connection thread, Go's callback
  threads, the simulator's network thread). `emit` must return at once and never call back into
  the session: the simulator calls it under its session lock, so a stopped session emits nothing.
- A send's "server" acknowledgement is not an event: `send_text` returning is that ack, and the
  worker publishes it. `ReceiptReceived` carries only what the recipient's side reports later
  (delivered, read, played); it may reach `emit` before the `send_text` call that produced the
  message has returned to its caller, as with WhatsApp, where a receipt is a separate stanza.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable

from .action_kinds import Action, EditOut, ReactionOut, RevokeOut, TargetKey  # noqa: F401  (part of the interface)

if TYPE_CHECKING:
    from .connectivity import ConnectivityGate
    from .conversation_api import KnownContact, Profile


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
    """The account unlinked this device; its keys are void and must be removed.

    `reason` is the lastError value, e.g. "logged_out: 403 account locked" (backends/reasons.py).
    """

    reason: str = "logged_out"


@dataclass(frozen=True)
class Terminated(Event):
    """A terminal cause (stream_replaced, connect_failure: 4xx, client_outdated); the keys stay."""

    reason: str


@dataclass(frozen=True)
class TemporaryBan(Event):
    """WhatsApp banned the account until retry_at (aware UTC); the keys stay, the worker reconnects then.

    `reason` is the lastError value (backends/reasons.py `temporary_ban`), which carries retry_at too.
    """

    reason: str
    retry_at: datetime


@dataclass(frozen=True)
class RetryLater(Event):
    """WhatsApp refused this connection for now (a 5xx): the worker ends it and reconnects after a backoff."""

    reason: str


@dataclass(frozen=True)
class KeepAliveMissed(Event):
    """`count` keepalive pings in a row went unanswered; the socket may well be up (whatsmeow decides)."""

    count: int


@dataclass(frozen=True)
class KeepAliveRestored(Event):
    """Keepalive pings are answered again after KeepAliveMissed."""


MESSAGE_KINDS = ("text", "image", "video", "audio", "voice", "document", "sticker", "location", "contact",
                 "reaction", "unknown")
MEDIA_KINDS = ("image", "video", "audio", "voice", "document", "sticker")  # voice: an audio note (ptt)
RECEIPT_STATUSES = ("delivered", "read", "played")


@dataclass(frozen=True)
class Reaction:
    """An emoji on an earlier message; emoji "" means the sender took the reaction back."""

    emoji: str
    target_id: str


@dataclass(frozen=True)
class Location:
    lat: float
    lng: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Media:
    """An attachment as the sender declared it; its bytes come through `BackendSession.download`.

    `kind` is one of MEDIA_KINDS; `download` is opaque to everyone but the backend that made it
    (neonize: the serialized media protobuf; the simulator: its CDN key), kept so a later retry can
    download again; `sha256` is the hex SHA-256 the sender declared, when known."""

    mimetype: str | None = None
    size: int | None = None  # bytes, as declared
    file_name: str | None = None  # documents only
    kind: str = ""
    download: bytes | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Contact:
    display_name: str | None = None
    vcard: str | None = None


@dataclass(frozen=True)
class MessageReceived(Event):
    """A message seen by this client: from someone else, or from_me when sent from another device.

    JIDs are strings "user@server" without a device suffix. `sender_jid` is as WhatsApp sent it and
    may be a privacy id "...@lid"; `sender_phone` is the sender's digits when known (from the
    alternate phone-number JID when the sender is a LID), else None. `kind` is one of MESSAGE_KINDS;
    `text` is the body or a caption. The optional parts are set only for their kind (`media` for
    image/video/audio/document/sticker). `sent_at` is aware UTC.
    """

    message_id: str
    chat: str
    sender_jid: str
    sender_phone: str | None
    is_group: bool
    from_me: bool
    push_name: str | None
    kind: str
    text: str | None
    sent_at: datetime
    quoted_id: str | None = None
    reaction: Reaction | None = None
    location: Location | None = None
    media: Media | None = None
    contact: Contact | None = None


@dataclass(frozen=True)
class ReceiptReceived(Event):
    """The other side received, read or played messages THIS client sent (status in RECEIPT_STATUSES).

    In a group, each participant's receipt is a separate event. `at` is aware UTC.
    """

    message_ids: tuple[str, ...]
    chat: str
    status: str
    at: datetime


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


class DownloadFailed(BackendError):
    """An attachment's bytes could not be fetched (str(): a short reason, no library dump)."""


class DownloadTooLarge(DownloadFailed):
    """The attachment is larger than the download's `max_bytes`: refused before anything was fetched
    when its declared size says so, else cut off at the limit (nothing past it reached the sink)."""

    def __init__(self, size: int | None, max_bytes: int):
        super().__init__(f"larger than {max_bytes} bytes" + (f" ({size} bytes declared)" if size else ""))
        self.size, self.max_bytes = size, max_bytes


class Unsupported(BackendError):
    """This backend cannot do that (yet)."""


@dataclass(frozen=True)
class SentMessage:
    message_id: str  # the id WhatsApp got: the one asked for if the backend can choose ids, else its own
    timestamp: datetime  # aware, UTC


# ---- what a send sends (worker -> backend): outgoing_parts.py, named here for callers ----------
from .outgoing_parts import (ContactOut, LocationOut, MediaOut, Outgoing, QuotedRef, TextOut,  # noqa: E402,F401
                             UploadRef)


# ---- interfaces ------------------------------------------------------------------------------
class BackendSession(ABC):
    """One client's connection to WhatsApp, backed by a session file on disk."""

    # True for a session that only pairs (e.g. in a process of its own) and ends after PairSuccess:
    # the worker then opens a new session over the paired file at once
    ends_after_pairing: bool = False

    @abstractmethod
    def connect(self) -> None:
        """Block while connected (connection thread); return after stop(); raise ConnectFailed."""

    @abstractmethod
    def pair_phone(self, phone_digits: str) -> str:
        """Ask for a pairing code 'XXXX-XXXX' for the phone; valid only after a QrUpdated event."""

    @abstractmethod
    def send_text(self, to_jid: str, text: str, message_id: str | None = None) -> SentMessage:
        """Send a plain text to the JID as given (send thread); raise SendFailed/NotConnected.

        `message_id` is the id wamulti gave the message; a backend that can send with a chosen id
        uses it, one that cannot (neonize 0.5.2) lets WhatsApp's library pick, and either way
        returns the id WhatsApp got.
        """

    def send_message(self, to_jid: str, outgoing: Outgoing, message_id: str | None = None) -> SentMessage:
        """Send any kind (send thread), as send_text does a text; a MediaOut's file was uploaded first.

        This default sends a plain TextOut only; a backend that sends more overrides it.
        """
        if isinstance(outgoing, TextOut) and outgoing.reply_to is None:
            return self.send_text(to_jid, outgoing.text, message_id)
        raise SendFailed(f"This backend does not send a {type(outgoing).__name__}.")

    def upload(self, data_path: Path, media_kind: str) -> UploadRef:
        """Upload the file's bytes, encrypted for WhatsApp, as one of MEDIA_KINDS (send thread).

        The bytes are read from the file; no path string is ever handed to a library.
        """
        raise SendFailed("This backend does not upload media.")

    def mark_read(self, chat: str, sender_jid: str, message_ids: tuple[str, ...], at: datetime) -> None:
        """Tell `sender_jid` that this account read its messages in `chat` (send thread); in a 1:1 chat
        the sender is the chat. Raises SendFailed/NotConnected."""
        raise SendFailed("This backend does not send read marks.")

    @abstractmethod
    def lookup_phone(self, digits: str) -> str | None:
        """The JID WhatsApp has for the phone number, None if it is not on WhatsApp (send thread).

        Raises SendFailed/NotConnected when the lookup itself fails (no answer is not a "no").
        """

    def download(self, media: Media, sink: BinaryIO, max_bytes: int) -> int:
        """Write the attachment's bytes to `sink` (media download pool, see the contract above); return
        how many. DownloadTooLarge past `max_bytes` (before fetching when the declared size is over it),
        DownloadFailed for anything else. A backend that cannot download keeps this default."""
        raise DownloadFailed(f"the {type(self).__name__} cannot download media")

    # ---- lookups and signals (conversation_api.py: their events and answers) ----
    # Each raises NotConnected when the session has no live connection, SendFailed when WhatsApp
    # refused or failed, Unsupported when the backend cannot. Not queued: momentary or read-only.
    def send_presence(self, state: str, chat: str | None = None) -> None:
        """Tell WhatsApp we are available/unavailable (no chat) or composing/recording/paused in chat."""
        raise Unsupported("presence is not supported by this backend")

    def check_numbers(self, digits: list[str]) -> dict[str, str | None]:
        """Digits -> the JID WhatsApp has for each (None: not on WhatsApp), in one round trip."""
        return {number: self.lookup_phone(number) for number in digits}

    def contacts(self) -> list["KnownContact"]:
        """The session's contact store (names synced from the phone, push names seen)."""
        raise Unsupported("contacts are not supported by this backend")

    def picture_url(self, jid: str) -> str | None:
        """The profile picture URL of a user or group; None when it has none (or hides it)."""
        raise Unsupported("profile pictures are not supported by this backend")

    def profile(self) -> "Profile":
        """The account's own JID, name and about text."""
        raise Unsupported("the own profile is not supported by this backend")

    def reject_call(self, caller: str, call_id: str) -> None:
        """Decline an incoming call (worker thread)."""
        raise Unsupported("rejecting calls is not supported by this backend")

    def groups(self):
        """This session's group calls (backends/group_api.py GroupCalls; any thread); a backend without
        them raises group_api.GroupsUnsupported."""
        from .group_api import GroupsUnsupported  # group_api imports this module

        raise GroupsUnsupported("this backend has no group calls")

    @abstractmethod
    def logout(self) -> None:
        """Unlink the device at WhatsApp, best effort; raises BackendError if it could not."""

    @abstractmethod
    def stop(self) -> None:
        """Close the connection and release the session (worker thread; idempotent)."""


class Backend(ABC):
    """A factory of sessions; one per process."""

    name: str = ""
    # the process-wide gate a paired client waits on while the network is down (connectivity.py);
    # None: the backend's dials cost nothing, clients just back off. No failed dial closes a client.
    connectivity: "ConnectivityGate | None" = None
    # seconds from a session's first QrUpdated until its login socket closes (and its pairing
    # code dies with it); None when the backend does not know (PAIRING_TIMEOUT alone bounds it)
    pairing_window: float | None = None

    @abstractmethod
    def new_session(self, client_id: str, session_path: Path, emit: Callable[[Event], None]) -> BackendSession:
        """A session over the file at session_path (restored before this call, or absent if new)."""

    def new_pairing_session(self, client_id: str, session_path: Path, emit: Callable[[Event], None]) -> BackendSession:
        """A session for a client with no linked device yet; by default the same as new_session."""
        return self.new_session(client_id, session_path, emit)

    def close(self) -> None:
        """Release process-wide resources at shutdown."""
