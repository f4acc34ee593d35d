"""Routes under /api/messages: sending text (through the client's outbound queue) and a send's status."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.routing import BaseConverter

from ..errors import InvalidField
from ..fields import validate_client_id, validate_text
from ..phone import normalize_recipient
from ..worker.outcome import Accepted
from .auth import check_api_key
from .json_body import iso_utc, json_object
from .registry import registry

bp = Blueprint("messages", __name__, url_prefix="/api/messages")
bp.before_request(check_api_key)

IDEMPOTENCY_KEY_MAX = 255


class MessageIdConverter(BaseConverter):
    """1-64 letters or digits, but not 'send' (that path is the sending route's, POST only)."""

    regex = "(?!send(?![A-Za-z0-9]))[A-Za-z0-9]{1,64}"


bp.record_once(lambda state: state.app.url_map.converters.setdefault("message_id", MessageIdConverter))


@bp.post("/send")
def send():
    """Validate every field, accept the send into the client's queue, and answer 200 once WhatsApp
    accepted it, or 202 (queued/sending) when it was not to wait or did not finish within SEND_WAIT.
    Errors: 404, 422 not on WhatsApp / key reused, 429 queue full, 502 upstream, 503 not ready."""
    body = json_object()
    client_id = validate_client_id(body.get("clientId"))
    to = normalize_recipient(body.get("to"), "to")
    text = validate_text(body.get("text"), "text")
    wait, prefer_async = _wait(body.get("wait"))
    key = _idempotency_key(request.headers.get("Idempotency-Key"))
    answer = registry().send_text(client_id, to, text, wait=wait, idempotency_key=key)
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


@bp.get("/<message_id:message_id>")
def status(message_id: str):
    """A send's status by wamulti's messageId (404 unknown)."""
    row = registry().message_status(message_id)
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


def _wait(value) -> tuple[bool, bool]:
    """(wait for the outcome, because `Prefer: respond-async` asked not to); body `wait` wins."""
    if value is not None and not isinstance(value, bool):
        raise InvalidField("wait", "Field 'wait' must be true or false.")
    prefer = {p.strip().split("=")[0].lower() for p in request.headers.get("Prefer", "").split(",")}
    prefer_async = "respond-async" in prefer and value is None
    return (not prefer_async) if value is None else value, prefer_async


def _idempotency_key(raw: str | None) -> str | None:
    """The Idempotency-Key header (a structured-field string; a bare token is taken as well)."""
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not all(" " <= c <= "~" for c in key):
        raise InvalidField("Idempotency-Key", f"Header 'Idempotency-Key' must be 1-{IDEMPOTENCY_KEY_MAX} "
                                              "printable ASCII characters.")
    return key
