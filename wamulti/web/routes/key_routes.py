"""Routes under /api/keys: the admin makes, lists and revokes scoped keys."""

from __future__ import annotations

from flask import current_app
from flask_openapi3 import APIBlueprint, Tag

from ...keys import ApiKeys, KeyInfo
from ..auth import KEYS_EXTENSION, SECURITY, admin_only, check_api_key
from ..json_body import iso_utc
from ..key_models import CreatedKey, CreateKey, KeyList, KeyPath, KeyRevoked
from ..responses import BODY, responses

bp = APIBlueprint("keys", __name__, url_prefix="/api/keys", abp_tags=[Tag(name="keys")], abp_security=SECURITY)
bp.before_request(check_api_key)


def api_keys() -> ApiKeys:
    """The scoped keys of the app serving this request."""
    return current_app.extensions[KEYS_EXTENSION]


def key_json(info: KeyInfo) -> dict:
    """The API's key object (never the key, never its hash)."""
    return {"id": info.key_id, "label": info.label, "clients": list(info.clients),
            "createdAt": iso_utc(info.created_at), "lastUsedAt": iso_utc(info.last_used_at)}


@bp.post("", operation_id="createApiKey", responses=responses({201: CreatedKey}, 400, 403, 404, 503, *BODY))
@admin_only
def create_key(body: CreateKey):
    """Make a key reaching only the named clients (each must exist, else 404); the key is in this answer only."""
    issued = api_keys().create(body.clients, body.label)
    return {**key_json(issued.info), "key": issued.key}, 201, {"Cache-Control": "no-store"}


@bp.get("", operation_id="listApiKeys", responses=responses({200: KeyList}, 403, 503))
@admin_only
def list_keys():
    """Every scoped key, oldest first, with the clients it reaches and when it was last used."""
    return [key_json(info) for info in api_keys().list()]


@bp.delete("/<key_id>", operation_id="revokeApiKey", responses=responses({200: KeyRevoked}, 403, 404, 503))
@admin_only
def revoke_key(path: KeyPath):
    """Revoke a key: every instance sharing the store refuses it from the next request on."""
    api_keys().revoke(path.key_id)
    return {"id": path.key_id, "deleted": True}
