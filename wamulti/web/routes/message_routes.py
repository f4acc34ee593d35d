"""Routes under /api/messages: sending (through the client's outbound queue) and a send's status."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag
from werkzeug.routing import BaseConverter

from ...sending.outcome import Accepted
from ..auth import SECURITY, check_api_key, client_scoped, current_principal
from ..json_body import iso_utc
from ..registry_port import registry
from ..responses import BODY, MessageStatus, Queued, Sent, responses
from ..schemas import MessagePath, SendHeaders
from ..send_models import SendMessage

bp = APIBlueprint("messages", __name__, url_prefix="/api/messages", abp_tags=[Tag(name="messages")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)


class MessageIdConverter(BaseConverter):
    """1-64 letters or digits, but not 'send', 'react', 'edit', 'revoke' or 'read' (POST routes' paths)."""

    regex = "(?!(?:send|react|edit|revoke|read)(?![A-Za-z0-9]))[A-Za-z0-9]{1,64}"


bp.record_once(lambda state: state.app.url_map.converters.setdefault("message_id", MessageIdConverter))


@bp.post("/send", operation_id="sendMessage",
         responses=responses({200: Sent, 202: Queued}, 400, 404, 422, 429, 502, 503, *BODY))
@client_scoped
def send(body: SendMessage, header: SendHeaders):
    """Send a text, a file (image, video, audio, voice note, document, sticker), a location or a
    contact, any of them as a reply: every field is validated (a `media.url` fetched, a `media.id`
    checked), then the send is accepted into the client's queue; nothing is queued on any 400/404.

    200 once WhatsApp accepted it; 202 (queued/sending) when `wait` is false, `Prefer: respond-async`
    was sent, the wait passed SEND_WAIT, or half the HTTP threads are already waiting. 404 unknown
    client, 422 no WhatsApp account or an Idempotency-Key reused with another body, 429 queue full,
    502 WhatsApp refused or failed it, 503 `client_not_ready` (with `currentState` and `Retry-After`).
    """
    prefer_async = header.prefers_async() and body.wait is None
    wait = (not prefer_async) if body.wait is None else body.wait
    request = body.to_request()
    if request.is_plain_text:
        answer = registry().send_text(body.clientId, request.to, request.text, wait=wait,
                                      idempotency_key=header.idempotency_key)
    else:
        answer = registry().send_message(body.clientId, request, wait=wait, idempotency_key=header.idempotency_key,
                                         admin=current_principal().is_admin)
    return answer_of(body.clientId, answer, prefer_async)


def answer_of(client_id: str, answer, prefer_async: bool = False):
    """A send's (or a message action's) answer: 202 with its Location while on its way, else 200."""
    if isinstance(answer, Accepted):
        headers = {"Location": f"/api/messages/{answer.message_id}"}
        if prefer_async:
            headers["Preference-Applied"] = "respond-async"
        return {"messageId": answer.message_id, "clientId": client_id, "to": answer.to,
                "status": answer.status}, 202, headers
    return {
        "success": True,
        "messageId": answer.message_id,
        "waMessageId": answer.wa_message_id,
        "clientId": client_id,
        "to": answer.to,
        "timestamp": iso_utc(answer.timestamp),
    }


@bp.get("/<message_id:message_id>", operation_id="getMessageStatus", responses=responses({200: MessageStatus}, 404))
@client_scoped
def status(path: MessagePath):
    """A send's status by wamulti's messageId (404 unknown, malformed, or deleted with its client)."""
    row = registry().message_status(path.message_id)
    return {
        "messageId": row.message_id,
        "clientId": row.client_id,
        "to": row.recipient,
        "chat": row.chat,
        "status": row.state,
        "reason": row.reason,
        "waMessageId": row.wa_message_id,
        "attempts": row.attempts,
        "createdAt": iso_utc(row.created_at),
        "updatedAt": iso_utc(row.updated_at),
        "sentAt": iso_utc(row.sent_at),
    }
