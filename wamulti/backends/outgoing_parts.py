"""What a send sends (worker -> backend): a message of one kind, the upload it points at, the message
it replies to, or an action on a message (action_kinds.py). backend_api.py names these for its
callers; the backends build them into WhatsApp's messages (neonize: outgoing_protos.py; the simulator: sim_messages.py)."""

from __future__ import annotations

from dataclasses import dataclass

from .action_kinds import EditOut, ReactionOut, RevokeOut


@dataclass(frozen=True)
class UploadRef:
    """What WhatsApp answered for an upload: every recipient's message points at the same encrypted file."""

    url: str
    direct_path: str
    media_key: bytes
    file_enc_sha256: bytes
    file_sha256: bytes
    file_length: int


@dataclass(frozen=True)
class QuotedRef:
    """The message a send replies to: WhatsApp's id for it, who sent it, its chat (and its text, if known)."""

    message_id: str
    sender_jid: str
    chat: str
    text: str | None = None


@dataclass(frozen=True)
class TextOut:
    text: str
    reply_to: QuotedRef | None = None


@dataclass(frozen=True)
class MediaOut:
    """An uploaded file as one of MEDIA_KINDS with the facts its message carries (None: not known)."""

    kind: str
    upload: UploadRef
    mimetype: str
    caption: str | None = None
    file_name: str | None = None  # documents
    seconds: int | None = None  # audio, voice, video
    waveform: bytes | None = None  # voice: 64 samples 0..100
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None  # JPEG; image, video
    reply_to: QuotedRef | None = None


@dataclass(frozen=True)
class LocationOut:
    lat: float
    lng: float
    name: str | None = None
    address: str | None = None
    reply_to: QuotedRef | None = None


@dataclass(frozen=True)
class ContactOut:
    display_name: str
    vcard: str
    reply_to: QuotedRef | None = None


Outgoing = TextOut | MediaOut | LocationOut | ContactOut | ReactionOut | EditOut | RevokeOut
