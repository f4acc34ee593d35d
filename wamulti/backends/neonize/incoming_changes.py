"""Changes to messages inside neonize's MessageEv: reactions, edits and revokes (pure functions).

Read from neonize 0.5.2's protobufs and whatsmeow's unwrapping:
- a reaction is a message of its own: `reactionMessage {key {ID, fromMe}, text}`; text "" takes it back.
- a revoke ("delete for everyone") is `protocolMessage {type: REVOKE, key {ID}}`; in a group an admin
  may revoke another's message (the event's sender is then the admin).
- an edit is `protocolMessage {type: MESSAGE_EDIT, key {ID}, editedMessage {...}}`; whatsmeow takes it
  out of the `editedMessage` (FutureProofMessage) wrapper it travels in and sets IsEdit, and older
  senders wrap it that way still, so both forms are read.
- `Info.MessageSource.IsFromMe`: one of our own devices did it (the phone, another linked device).
Each becomes MessageReacted / MessageEdited / MessageRevoked; other protocol traffic stays None.
"""

from __future__ import annotations

from .. import backend_api as bk
from .. import conversation_api as cv

TEXT_PARTS = ("imageMessage", "videoMessage", "documentMessage")  # an edited caption


def _edited_text(msg) -> str | None:
    if msg.conversation:
        return msg.conversation
    if msg.HasField("extendedTextMessage"):
        return msg.extendedTextMessage.text or None
    part = next((getattr(msg, name) for name in TEXT_PARTS if msg.HasField(name)), None)
    return (part.caption or None) if part is not None else None


def _protocol(msg):
    """The protocolMessage of a message, inside an `editedMessage` wrapper or not; None if there is none."""
    if msg.HasField("editedMessage") and msg.editedMessage.HasField("message"):
        msg = msg.editedMessage.message
    return msg.protocolMessage if msg.HasField("protocolMessage") else None


def translate_change(msg, who: dict, at) -> bk.Event | None:
    """`msg` the unwrapped Message, `who` the chat/sender fields of the event, `at` its time."""
    if msg.HasField("reactionMessage"):
        part = msg.reactionMessage
        return cv.MessageReacted(message_id=who.pop("message_id"), emoji=part.text, target_id=part.key.ID,
                                 target_from_me=part.key.fromMe, at=at, **who)
    protocol = _protocol(msg)
    if protocol is None or not protocol.key.ID:
        return None
    who.pop("message_id")
    kind = protocol.DESCRIPTOR.fields_by_name["type"].enum_type.values_by_number.get(protocol.type)
    if kind is not None and kind.name == "REVOKE":
        return cv.MessageRevoked(target_id=protocol.key.ID, at=at, **who)
    if kind is not None and kind.name == "MESSAGE_EDIT":
        return cv.MessageEdited(target_id=protocol.key.ID, text=_edited_text(protocol.editedMessage), at=at, **who)
    return None
