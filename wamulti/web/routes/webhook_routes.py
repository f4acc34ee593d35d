"""Routes under /api/clients/<id>/webhook: a client's own webhook, and replaying its events."""

from __future__ import annotations

from functools import partial

from flask_openapi3 import APIBlueprint, Tag

from ...destinations.urls import masked_url
from ...hearing.event_fields import check_event_types, mask_secret
from ..auth import SECURITY, check_api_key, client_scoped
from ..events_port import events
from ..json_body import iso_utc
from ..registry_port import registry
from ..responses import BODY, Deleted, Replayed, WebhookOut, responses
from ..schemas import ClientPath, PutWebhook, Replay

bp = APIBlueprint("webhooks", __name__, url_prefix="/api/clients", abp_tags=[Tag(name="webhooks")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)


def webhook_json(client_id: str, hook, show_secret: bool = False) -> dict:
    """The API's webhook object; the URL's password masked, the secret too unless it was just generated."""
    return {
        "clientId": client_id,
        "url": masked_url(hook.url),
        "events": hook.event_list,
        "secret": hook.secret if show_secret else mask_secret(hook.secret),
        "updatedAt": iso_utc(hook.updated_at),
    }


@bp.put("/<client_id>/webhook", operation_id="putWebhook", responses=responses({200: WebhookOut}, 400, 404, 503, *BODY))
@client_scoped
def put_webhook(path: ClientPath, body: PutWebhook):
    """Set the client's own webhook {"url", "events"?, "secret"?}; a generated secret is shown only here.

    400 destination_not_allowed: the URL's host is an address the service does not connect to."""
    types = None if body.events is None else check_event_types(body.events)
    client_id = path.client_id
    # while the client exists: a delete waits for this write and removes the row with the client's
    hook, generated = registry().while_live(client_id, partial(events().set_webhook, client_id, body.url, types,
                                                               body.secret))
    return webhook_json(client_id, hook, show_secret=generated)


@bp.get("/<client_id>/webhook", operation_id="getWebhook", responses=responses({200: WebhookOut}, 400, 404, 503))
@client_scoped
def get_webhook(path: ClientPath):
    """The client's own webhook, secret masked (404 if it has none: the global one applies)."""
    client_id = path.client_id
    return webhook_json(client_id, registry().while_live(client_id, partial(events().webhook, client_id)))


@bp.delete("/<client_id>/webhook", operation_id="deleteWebhook", responses=responses({200: Deleted}, 400, 404, 503))
@client_scoped
def delete_webhook(path: ClientPath):
    """Remove the client's own webhook; the global one (if any) applies again."""
    client_id = path.client_id
    registry().while_live(client_id, partial(events().delete_webhook, client_id))
    return {"clientId": client_id, "deleted": True}


@bp.post("/<client_id>/webhook/replay", operation_id="replayEvents",
         responses=responses({200: Replayed}, 400, 404, 409, 503, *BODY))
@client_scoped
def replay(path: ClientPath, body: Replay):
    """Queue every event of the client after {"after": "<eventId>"} again, in order (all without 'after')."""
    client_id = path.client_id
    queued = registry().while_live(client_id, partial(events().replay, client_id, body.after))
    return {"clientId": client_id, "queued": queued}
