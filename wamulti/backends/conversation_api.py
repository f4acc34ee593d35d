"""What a backend reports around messages, and what its lookups answer (backend_api.py has the rest).

Events (backend -> worker, through `emit`, like MessageReceived): reactions, edits and revokes of
messages (incoming, or `from_me` when one of our own devices did it), contacts' presence, incoming
calls. Answers: the account's own profile, the contact store's entries. JIDs are "user@server"
without a device suffix; `*_phone` are digits when WhatsApp told them (a `@lid` sender often has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .backend_api import Event


@dataclass(frozen=True)
class MessageReacted(Event):
    """Someone (or, from_me, one of our own devices) put an emoji on a message; emoji "" takes it back.

    `target_id` is WhatsApp's id of the message reacted to, `target_from_me` whether it was ours.
    """

    message_id: str
    chat: str
    sender_jid: str
    sender_phone: str | None
    from_me: bool
    emoji: str
    target_id: str
    target_from_me: bool
    at: datetime


@dataclass(frozen=True)
class MessageEdited(Event):
    """A sent text was changed by its sender (from_me: on one of our own devices); `text` is the new body."""

    target_id: str
    chat: str
    sender_jid: str
    sender_phone: str | None
    from_me: bool
    text: str | None
    at: datetime


@dataclass(frozen=True)
class MessageRevoked(Event):
    """A message was deleted for everyone by its sender (or a group admin: sender_jid says who)."""

    target_id: str
    chat: str
    sender_jid: str
    sender_phone: str | None
    from_me: bool
    at: datetime


PRESENCE_STATES = ("available", "unavailable", "composing", "recording", "paused")


@dataclass(frozen=True)
class PresenceSeen(Event):
    """A contact's presence: online/offline (`chat` None; `last_seen` when WhatsApp tells it), or
    typing / recording / paused in `chat`. `state` is one of PRESENCE_STATES."""

    jid: str
    phone: str | None
    state: str
    chat: str | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True)
class CallOffered(Event):
    """An incoming call is ringing; `caller` is the JID to reject it with (and to answer in text)."""

    call_id: str
    caller: str
    caller_phone: str | None
    video: bool
    at: datetime


@dataclass(frozen=True)
class Profile:
    """The account's own profile: its JID, push name and about text (None when unknown)."""

    jid: str | None
    name: str | None
    about: str | None


@dataclass(frozen=True)
class KnownContact:
    """A contact from the session's contact store: the name saved on the phone, or the push name."""

    jid: str
    phone: str | None
    name: str | None  # the address book's full name
    push_name: str | None  # the name the contact gave itself
