"""Routes under /api/clients: create, list, get, pair, QR code, delete."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..errors import InvalidField
from ..fields import validate_client_id
from ..phone import normalize_phone
from ..qr import qr_png
from .auth import check_api_key
from .json_body import iso_utc, json_object
from .registry import registry

bp = Blueprint("clients", __name__, url_prefix="/api/clients")
bp.before_request(check_api_key)

QR_FORMATS = ("png", "text")


def client_json(status) -> dict:
    """The API's client object for a registry ClientStatus."""
    return {
        "clientId": status.client_id,
        "state": status.state,
        "pairingCode": status.pairing_code,
        "phone": status.phone,
        "jid": status.jid,
        "lastError": status.last_error,
        "updatedAt": iso_utc(status.updated_at),
        "snapshotLagSeconds": round(status.snapshot_lag, 1),
        "lastSnapshotAt": iso_utc(status.last_snapshot_at),
    }


def _optional_phone(body: dict) -> str | None:
    value = body.get("phone")
    return None if value is None else normalize_phone(value, "phone")


@bp.post("")
def create():
    """Create a client and start pairing it; 201 with its Location."""
    body = json_object()
    client_id = validate_client_id(body.get("clientId"))
    phone = _optional_phone(body)
    status = registry().create(client_id, phone)
    return client_json(status), 201, {"Location": f"/api/clients/{status.client_id}"}


@bp.get("")
def list_clients():
    """Every client, sorted by id."""
    return [client_json(status) for status in registry().list()]


@bp.get("/<client_id>")
def get(client_id: str):
    """One client."""
    return client_json(registry().get(validate_client_id(client_id)))


@bp.post("/<client_id>/pair")
def pair(client_id: str):
    """Pair a closed or unpaired client again; the body (with 'phone') is optional."""
    client_id = validate_client_id(client_id)
    phone = _optional_phone(json_object(optional=True))
    return client_json(registry().pair(client_id, phone))


@bp.get("/<client_id>/qr")
def qr(client_id: str):
    """The pending QR code as a PNG, or its raw string with ?format=text."""
    client_id = validate_client_id(client_id)
    fmt = request.args.get("format", "png")
    if fmt not in QR_FORMATS:
        raise InvalidField("format", "Query parameter 'format' must be 'png' or 'text'.")
    data = registry().qr(client_id)
    headers = {"Cache-Control": "no-store"}  # the code rotates every few seconds
    if fmt == "text":
        return Response(data, mimetype="text/plain", headers=headers)
    return Response(qr_png(data), mimetype="image/png", headers=headers)


@bp.delete("/<client_id>")
def delete(client_id: str):
    """Log out, stop and remove a client in any state."""
    client_id = validate_client_id(client_id)
    registry().delete(client_id)
    return {"clientId": client_id, "deleted": True}
