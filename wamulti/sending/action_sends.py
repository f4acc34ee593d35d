"""Message actions (react, edit, revoke, read): checked when accepted, resolved and sent in their turn.

An action names its target by wamulti's messageId (a send of this client: its row says WhatsApp's
id, the chat it went to and when) or by WhatsApp's id (any message; then `chat`, and in a group the
target's author, say the rest). Accepted, the action goes last in the line of the chat its target
was sent to (the target's `recipient`), so it waits for that send; in its turn it reads the target's
row again: sent -> the action goes out for WhatsApp's id; failed -> the action fails, naming why.

WhatsApp lets a text be edited for 15 minutes after it was sent (EDIT_WINDOW): past it an edit of a
send whose time wamulti knows is refused (409) and nothing is queued; one that waited past it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from ..backends.backend_api import (BackendSession, EditOut, ReactionOut, RevokeOut, SentMessage, TargetKey)
from ..errors import Conflict, InvalidField, Upstream
from ..store.client_rows import utcnow
from ..store.send_rows import FAILED, GONE_OUT, OutboundRow, OutboundStore
from .action_payloads import ActionRequest, action_of
from .payloads import from_payload

EDIT_WINDOW = timedelta(minutes=15)
VERB = {"react": "reacted to", "edit": "edited", "revoke": "revoked", "read": "marked read"}

Author = Callable[[str], str | None]
"""WhatsApp's id of a message this client heard -> who wrote it (None: not heard, or forgotten)."""


def is_group(jid: str) -> bool:
    return jid.endswith("@g.us")


def digits_of(jid: str) -> str:
    """The user part of a JID or number, for comparing chats given in different forms."""
    return jid.lstrip("+").partition("@")[0].partition(":")[0]


class ActionTargets:
    """One client's: what an action acts on, by the rows of its sends."""

    def __init__(self, client_id: str, store: OutboundStore, author: Author | None = None):
        self._client_id = client_id
        self._store = store
        self._author = author or (lambda _id: None)

    def ours(self, message_id: str) -> OutboundRow | None:
        """This client's send with wamulti's id `message_id` (a send, not an action), else None."""
        row = self._store.get_send(message_id)
        if row is None or row.client_id != self._client_id or action_of(row.payload) is not None:
            return None
        return row

    # ---- accept time (a request thread) ------------------------------------------------------------
    def admit(self, request: ActionRequest) -> tuple[str, ActionRequest]:
        """(the line to queue in, the request with what is known now filled in), or raise: a target that
        failed or cannot take this action is a Conflict, a chat or author missing an InvalidField."""
        if request.action == "read":
            return request.chat, self._admit_read(request)
        target = self.ours(request.message_id)
        if target is None:
            return request.chat, self._admit_theirs(request)
        verb = VERB[request.action]
        if not _same_chat(request.chat, target):
            raise InvalidField("chat", f"Message '{request.message_id}' was sent to {target.chat or target.recipient}, "
                                       f"not to chat '{request.chat}'.")
        if target.state == FAILED:
            raise Conflict(f"Message '{request.message_id}' was not sent ({_code(target)}), so it cannot be "
                           f"{verb}; nothing was queued.")
        if request.action == "edit":
            _check_editable(target)
        return target.recipient, request

    def _admit_theirs(self, request: ActionRequest) -> ActionRequest:
        """WhatsApp's id: in a group someone else's message needs its author (given, or heard)."""
        if request.action == "edit" or request.from_me or request.participant or not is_group(request.chat):
            return request
        if request.action == "revoke":
            return request  # without a participant: this account's own message
        author = self._author(request.message_id)
        if author is None:
            raise InvalidField("participant", f"Field 'participant' is required: who wrote message "
                                              f"'{request.message_id}' in group {request.chat} is not known here.")
        return replace(request, participant=author)

    def _admit_read(self, request: ActionRequest) -> ActionRequest:
        """Each id's sender: in a 1:1 chat the chat, in a group `participant` or what was heard."""
        senders = []
        for message_id in request.read_ids:
            if self.ours(message_id) is not None:
                raise InvalidField("messageIds", f"Message '{message_id}' is one this client sent; only received "
                                                 "messages are marked read.")
            sender = request.participant or (self._author(message_id) if is_group(request.chat) else "")
            if sender is None:
                raise InvalidField("participant", f"Field 'participant' is required: who wrote message "
                                                  f"'{message_id}' in group {request.chat} is not known here.")
            senders.append((message_id, sender))
        return replace(request, senders=tuple(senders))

    # ---- send time (a send thread) ------------------------------------------------------------------
    def key(self, request: ActionRequest, chat: str) -> TargetKey:
        """The target as WhatsApp keys it, its send (if ours) having ended; Upstream if it failed."""
        target = self.ours(request.message_id)
        if target is None:
            from_me = request.action in ("edit", "revoke") and not request.participant
            return TargetKey(request.message_id, chat, bool(from_me or request.from_me),
                             None if from_me or request.from_me else request.participant)
        verb = VERB[request.action]
        if target.state == FAILED:
            raise Upstream(f"Message '{target.message_id}' was not sent ({_code(target)}), so it cannot be {verb}; "
                           "nothing was sent.")
        if target.state not in GONE_OUT or not target.wa_message_id:
            raise Upstream(f"Message '{target.message_id}' has not been sent yet, so it cannot be {verb}; "
                           "nothing was sent.")
        if request.action == "edit":
            _check_editable(target, waited=True)
        return TargetKey(target.wa_message_id, target.chat or chat, True)

    def perform(self, session: BackendSession, request: ActionRequest, chat: str,
                message_id: str | None = None) -> SentMessage | None:
        """Send the action in `chat` (a JID) as message `message_id` (the row's; a backend that can choose
        ids uses it); the SentMessage of a reaction, edit or revoke, None for a read."""
        if request.action == "read":
            at = datetime.now(timezone.utc)
            for sender, ids in _by_sender(request.senders, chat):
                session.mark_read(chat, sender, ids, at)
            return None
        target = self.key(request, chat)
        if request.action == "react":
            out = ReactionOut(target, request.emoji or "")
        elif request.action == "edit":
            out = EditOut(target, request.text or "")
        else:
            out = RevokeOut(target)
        return session.send_message(target.chat, out, message_id)


def _code(row: OutboundRow) -> str:
    """A failed row's reason code (the stored reason is 'code: sentence')."""
    return (row.reason or "failed").partition(":")[0]


def _same_chat(chat: str, target: OutboundRow) -> bool:
    given = digits_of(chat)
    return given in {digits_of(target.recipient), digits_of(target.chat or target.recipient)}


def _check_editable(target: OutboundRow, waited: bool = False) -> None:
    """Only a text (plain or a reply) is edited, and only within EDIT_WINDOW of its send."""
    if target.payload is not None and from_payload(target.payload).text is None:
        raise Conflict(f"Message '{target.message_id}' is not a text; only a text can be edited.")
    if target.sent_at is not None and utcnow() - target.sent_at > EDIT_WINDOW:
        words = (f"Message '{target.message_id}' was sent at {target.sent_at.isoformat(timespec='seconds')}Z, more "
                 "than 15 minutes ago: WhatsApp no longer lets it be edited.")
        if waited:
            raise Upstream(words + " Nothing was sent.")
        raise Conflict(words + " Nothing was queued.")


def _by_sender(senders: tuple[tuple[str, str], ...], chat: str) -> list[tuple[str, tuple[str, ...]]]:
    """A read mark per sender (WhatsApp's receipts name one sender each); "" is the 1:1 chat itself."""
    grouped: dict[str, list[str]] = {}
    for message_id, sender in senders:
        grouped.setdefault(sender or chat, []).append(message_id)
    return [(sender, tuple(ids)) for sender, ids in grouped.items()]
