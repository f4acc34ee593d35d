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


@bp.post("/send", responses=responses({200: Sent}, 400, 404, 502, 503, *BODY))
def send(body: SendText):
    """Send a text: every field is validated before the client is looked up.

    404 unknown client, 503 `client_not_ready` (with `currentState` and `Retry-After`), 502 when
    WhatsApp refused the send or did not confirm it within 20 s.
    """
    sent = registry().send_text(body.clientId, body.to, body.text)
    return {
        "success": True,
        "messageId": sent.message_id,
        "clientId": body.clientId,
        "to": body.to,
        "timestamp": iso_utc(sent.timestamp),
    }
