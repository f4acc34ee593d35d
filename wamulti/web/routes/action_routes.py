"""Routes POST /api/messages/react|edit|revoke|read: message actions, through the client's queue.

Each is a row of the client's outbound queue, in the line of the chat its target was sent in: an
action on a send still queued waits for it and then acts on WhatsApp's id of it (sending/action_sends.py).
Answered like POST /api/messages/send (200 / 202, the action's own messageId, its status route).
"""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from ..action_models import ActionBody, ActionDone, EditMessage, ReactMessage, ReadMessages, RevokeMessage
from ..auth import SECURITY, check_api_key, client_scoped
from ..registry_port import registry
from ..responses import BODY, Queued, responses
from ..schemas import SendHeaders
from .message_routes import answer_of

bp = APIBlueprint("message_actions", __name__, url_prefix="/api/messages", abp_tags=[Tag(name="messages")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)

ANSWERS = responses({200: ActionDone, 202: Queued}, 400, 404, 409, 422, 429, 502, 503, *BODY)


def _act(body: ActionBody, header: SendHeaders):
    prefer_async = header.prefers_async() and body.wait is None
    wait = (not prefer_async) if body.wait is None else body.wait
    answer = registry().message_action(body.clientId, body.to_request(), wait=wait,
                                       idempotency_key=header.idempotency_key)
    return answer_of(body.clientId, answer, prefer_async)


@bp.post("/react", operation_id="reactToMessage", responses=ANSWERS)
@client_scoped
def react(body: ReactMessage, header: SendHeaders):
    """React to a message with an emoji ("" takes the reaction back). In a group, someone else's message
    needs its author: `participant`, or known from this client's `message` events. 409: the message
    (wamulti's id) failed; 502: it failed while the reaction waited behind it."""
    return _act(body, header)


@bp.post("/edit", operation_id="editMessage", responses=ANSWERS)
@client_scoped
def edit(body: EditMessage, header: SendHeaders):
    """Edit a text this account sent. 409: not a text, failed, or sent more than 15 minutes ago
    (WhatsApp's edit window); an edit queued behind its send waits for it."""
    return _act(body, header)


@bp.post("/revoke", operation_id="revokeMessage", responses=ANSWERS)
@client_scoped
def revoke(body: RevokeMessage, header: SendHeaders):
    """Delete a message for everyone: this account's, or (a group admin) someone else's with
    `participant`. 409: the message (wamulti's id) failed."""
    return _act(body, header)


@bp.post("/read", operation_id="markMessagesRead", responses=ANSWERS)
@client_scoped
def read(body: ReadMessages, header: SendHeaders):
    """Mark received messages read: `messageIds`, or `upTo` one message (WhatsApp's phones then show
    the chat read up to it). In a group each message's author is needed (`participant`, or heard).
    `waMessageId` is null: a read mark is a receipt, not a message."""
    return _act(body, header)
