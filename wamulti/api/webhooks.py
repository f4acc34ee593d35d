"""Routes under /api/clients/<id>/webhook: a client's own webhook, and replaying its events."""

from __future__ import annotations

from flask import Blueprint

from ..events.fields import check_event_id, check_event_types, check_secret, check_url, mask_secret
from ..fields import validate_client_id
from .auth import check_api_key
from .events_port import events
from .json_body import iso_utc, json_object
from .registry import registry

bp = Blueprint("webhooks", __name__, url_prefix="/api/clients")
bp.before_request(check_api_key)


def webhook_json(client_id: str, hook, show_secret: bool = False) -> dict:
    """The API's webhook object; the secret masked unless it was just generated."""
    return {
        "clientId": client_id,
        "url": hook.url,
        "events": hook.event_list,
        "secret": hook.secret if show_secret else mask_secret(hook.secret),
        "updatedAt": iso_utc(hook.updated_at),
    }


def _known_client(client_id: str) -> str:
    """The validated id of an existing client (404 otherwise)."""
    client_id = validate_client_id(client_id)
    registry().get(client_id)
    return client_id


@bp.put("/<client_id>/webhook")
def put_webhook(client_id: str):
    """Set the client's own webhook {"url", "events"?, "secret"?}; a generated secret is shown only here."""
    client_id = validate_client_id(client_id)
    body = json_object()
    url = check_url(body.get("url"))
    types = None if body.get("events") is None else check_event_types(body.get("events"))
    secret = None if body.get("secret") is None else check_secret(body.get("secret"))
    _known_client(client_id)
    hook, generated = events().set_webhook(client_id, url, types, secret)
    return webhook_json(client_id, hook, show_secret=generated)


@bp.get("/<client_id>/webhook")
def get_webhook(client_id: str):
    """The client's own webhook, secret masked (404 if it has none: the global one applies)."""
    client_id = _known_client(client_id)
    return webhook_json(client_id, events().webhook(client_id))


@bp.delete("/<client_id>/webhook")
def delete_webhook(client_id: str):
    """Remove the client's own webhook; the global one (if any) applies again."""
    client_id = _known_client(client_id)
    events().delete_webhook(client_id)
    return {"clientId": client_id, "deleted": True}


@bp.post("/<client_id>/webhook/replay")
def replay(client_id: str):
    """Queue every event of the client after {"after": "<eventId>"} again, in order (all without 'after')."""
    client_id = validate_client_id(client_id)
    body = json_object(optional=True)
    after = None if body.get("after") is None else check_event_id(body.get("after"), "after")
    _known_client(client_id)
    return {"clientId": client_id, "queued": events().replay(client_id, after)}
