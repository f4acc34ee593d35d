"""Routes under /api/messages: sending text."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from .auth import SECURITY, check_api_key
from .json_body import iso_utc
from .registry import registry
from .responses import BODY, Sent, responses
from .schemas import SendText

bp = APIBlueprint("messages", __name__, url_prefix="/api/messages", abp_tags=[Tag(name="messages")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)


@bp.post("/send", responses=responses({200: Sent}, 400, 404, 422, 502, 503, 504, *BODY))
def send(body: SendText):
    """Send a text: every field is validated before the client is looked up.

    404 unknown client, 422 the number has no WhatsApp account, 502 WhatsApp refused or failed the
    send, 503 `client_not_ready` (with `currentState` and `Retry-After`) or `send_cancelled` (never
    sent), 504 `send_timeout`: under way past SEND_TIMEOUT, outcome told later under its `messageId`.
    """
    sent = registry().send_text(body.clientId, body.to, body.text)
    return {
        "success": True,
        "messageId": sent.message_id,
        "waMessageId": sent.wa_message_id,
        "clientId": body.clientId,
        "to": sent.to,
        "timestamp": iso_utc(sent.timestamp),
    }
