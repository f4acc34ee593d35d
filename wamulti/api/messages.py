"""Routes under /api/messages: sending text."""

from __future__ import annotations

from flask import Blueprint

from ..fields import validate_client_id, validate_text
from ..phone import normalize_recipient
from .auth import check_api_key
from .json_body import iso_utc, json_object
from .registry import registry

bp = Blueprint("messages", __name__, url_prefix="/api/messages")
bp.before_request(check_api_key)


@bp.post("/send")
def send():
    """Validate every field, then send through the client (404, 422 not on WhatsApp, 502 upstream,
    503 not ready or cancelled, 504 timed out with the messageId)."""
    body = json_object()
    client_id = validate_client_id(body.get("clientId"))
    to = normalize_recipient(body.get("to"), "to")
    text = validate_text(body.get("text"), "text")
    sent = registry().send_text(client_id, to, text)
    return {
        "success": True,
        "messageId": sent.message_id,
        "waMessageId": sent.wa_message_id,
        "clientId": client_id,
        "to": sent.to,
        "timestamp": iso_utc(sent.timestamp),
    }
