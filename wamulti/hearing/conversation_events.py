"""What happens around messages as events: reactions, edits, revokes, presence, calls (docs/events.md).

Pure: a backend event in, (type, data) out. The JID fields follow the `message` event: `chat` and
`fromJid` as WhatsApp sent them (a `@lid` privacy id is common), `from` the sender's phone digits
when WhatsApp told them, else null. A reaction is only a `message.reaction` event, never a
`message` (it changes a message, it is none of its own).
"""

from __future__ import annotations

from typing import Any

from ..backends.backend_api import Event
from ..backends.conversation_api import CallOffered, MessageEdited, MessageReacted, MessageRevoked, PresenceSeen
from .event_model import EventType, iso_ms


def _who(event) -> dict[str, Any]:
    return {"chat": event.chat, "from": event.sender_phone, "fromJid": event.sender_jid, "fromMe": event.from_me}


def _reaction(event: MessageReacted) -> dict[str, Any]:
    return {"id": event.message_id, **_who(event), "emoji": event.emoji or None, "removed": not event.emoji,
            "targetId": event.target_id, "targetFromMe": event.target_from_me, "at": iso_ms(event.at)}


def _edited(event: MessageEdited) -> dict[str, Any]:
    return {"targetId": event.target_id, **_who(event), "text": event.text, "at": iso_ms(event.at)}


def _revoked(event: MessageRevoked) -> dict[str, Any]:
    return {"targetId": event.target_id, **_who(event), "at": iso_ms(event.at)}


def _presence(event: PresenceSeen) -> dict[str, Any]:
    return {"jid": event.jid, "phone": event.phone, "state": event.state, "chat": event.chat,
            "lastSeen": iso_ms(event.last_seen) if event.last_seen else None}


def _call(event: CallOffered) -> dict[str, Any]:
    return {"callId": event.call_id, "from": event.caller_phone, "fromJid": event.caller, "video": event.video,
            "at": iso_ms(event.at)}


_TRANSLATIONS = {MessageReacted: (EventType.MESSAGE_REACTION, _reaction),
                 MessageEdited: (EventType.MESSAGE_EDITED, _edited),
                 MessageRevoked: (EventType.MESSAGE_REVOKED, _revoked),
                 PresenceSeen: (EventType.PRESENCE, _presence),
                 CallOffered: (EventType.CALL, _call)}


def conversation_event(event: Event) -> tuple[EventType, dict[str, Any]] | None:
    """The event type and data for a reaction, edit, revoke, presence or call; None for anything else."""
    found = _TRANSLATIONS.get(type(event))
    return None if found is None else (found[0], found[1](event))
