"""Message actions as neonize 0.5.2's real protobufs, and read marks through its `mark_read`.

- A reaction is built here as whatsmeow's BuildReaction builds it (ReactionMessage with the
  target's MessageKey, the emoji, senderTimestampMS): the library's `build_reaction` is a call into
  Go that asks for the account's own JID to decide `fromMe`, which the TargetKey already says.
  The key carries `participant` (the author) only for someone else's message in a group.
- An edit is the library's `neonize.builder.build_edit` (pure Python: editedMessage ->
  protocolMessage MESSAGE_EDIT with the key fromMe=true, the new Message, timestampMS).
- A revoke is the library's `neonize.builder.build_revoke` (protocolMessage REVOKE): it decides
  fromMe by comparing the author with "my" JID, so it is given the author as both for our own
  message, and an empty JID as "mine" for someone else's (an admin's revoke: participant set).
  whatsmeow marks the send as an edit ("1") or admin revoke ("8") by itself.
- A read mark is `client.mark_read(*ids, chat=, sender=, receipt=ReceiptType.READ, timestamp=)`.

Functions only, like outgoing.py; the session calls them inside its send call.
"""

from __future__ import annotations

import time
from datetime import datetime

from ..backend_api import EditOut, ReactionOut, RevokeOut, TargetKey
from .outgoing import jid_proto

NO_PARTICIPANT_SERVERS = ("s.whatsapp.net", "lid", "msgr")  # whatsmeow: 1:1 chats name no participant


def message_key(target: TargetKey):
    """The WACommon MessageKey of the target."""
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey

    key = MessageKey(remoteJID=target.chat, fromMe=target.from_me, ID=target.message_id)
    server = target.chat.partition("@")[2]
    if not target.from_me and target.participant and server not in NO_PARTICIPANT_SERVERS:
        key.participant = target.participant
    return key


def action_message(out: ReactionOut | EditOut | RevokeOut):
    """The Message proto of an action."""
    from neonize.builder import build_edit, build_revoke
    from neonize.proto.Neonize_pb2 import JID
    from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

    target = out.target
    match out:
        case ReactionOut(emoji=emoji):
            return e2e.Message(reactionMessage=e2e.ReactionMessage(
                key=message_key(target), text=emoji, senderTimestampMS=int(time.time() * 1000)))
        case EditOut(text=text):
            return build_edit(jid_proto(target.chat), target.message_id, e2e.Message(conversation=text))
        case RevokeOut():
            author = jid_proto(target.participant or target.chat)
            mine = author if target.from_me else JID(User="", Server="", IsEmpty=True)
            return build_revoke(jid_proto(target.chat), author, target.message_id, mine)
    raise TypeError(f"not an action: {type(out).__name__}")


def mark_read(client, chat: str, sender_jid: str, message_ids: tuple[str, ...], at: datetime) -> None:
    """A read receipt for the messages `sender_jid` wrote in `chat`; the library's errors pass."""
    from neonize.utils.enum import ReceiptType

    client.mark_read(*message_ids, chat=jid_proto(chat), sender=jid_proto(sender_jid), receipt=ReceiptType.READ,
                     timestamp=int(at.timestamp()))
