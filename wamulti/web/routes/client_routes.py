"""Routes under /api/clients: create, list, get, pair, QR code, delete."""

from __future__ import annotations

from flask import Response
from flask_openapi3 import APIBlueprint, Tag

from ...clients.qr_codes import qr_png
from ..auth import SECURITY, admin_only, check_api_key, client_scoped
from ..json_body import iso_utc
from ..registry_port import registry
from ..responses import BODY, ClientDeleted, ClientList, ClientOut, CreatedClient, responses
from ..schemas import ClientPath, ClientsQuery, CreateClient, PairClient, QrQuery, client_cursor

bp = APIBlueprint("clients", __name__, url_prefix="/api/clients", abp_tags=[Tag(name="clients")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)

QR_IMAGE = {"description": "The pending QR code: a PNG, or its raw string with ?format=text.",
            "headers": {"Cache-Control": {"description": "no-store: the code rotates.", "schema": {"type": "string"}}},
            "content": {"image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}},
                        "text/plain": {"schema": {"type": "string"}}}}


def client_json(status) -> dict:
    """The API's client object for a registry ClientStatus."""
    shown = {
        "clientId": status.client_id,
        "state": status.state,
        "pairingCode": status.pairing_code,
        "phone": status.phone,
        "jid": status.jid,
        "lastError": status.last_error,
        "updatedAt": iso_utc(status.updated_at),
        "retryAt": iso_utc(status.retry_at),  # after a temporary ban, while CONNECTING
        "pairingExpiresAt": iso_utc(status.pairing_expires_at),
        "snapshotLagSeconds": round(status.snapshot_lag, 1),
        "lastSnapshotAt": iso_utc(status.last_snapshot_at),
    }
    if status.instance is not None:  # CLUSTER=on only: one instance's answers stay as they were
        shown["instance"] = status.instance or None  # "": no instance holds it now
    return shown


@bp.post("", operation_id="createClient", responses=responses({201: CreatedClient}, 400, 403, 409, 503, *BODY))
@admin_only
def create(body: CreateClient):
    """Create a client and start pairing it; 201 with its Location.

    With `phone` the answer waits up to 15 s for `pairingCode` (sooner, with `lastError`, if the
    connection fails); without it the server's console asks for the number.
    """
    status = registry().create(body.clientId, body.phone)
    return client_json(status), 201, {"Location": f"/api/clients/{status.client_id}"}


PAGE_LIMIT = 100  # a page's size when only a cursor is given


@bp.get("", operation_id="listClients", responses=responses({200: ClientList}, 400))
@client_scoped
def list_clients(query: ClientsQuery):
    """Every client sorted by id, an array; with ?limit= (or ?cursor=) a page {clients, next}; ?state= filters."""
    if query.limit is None and query.cursor is None:
        statuses = registry().list()
        return [client_json(s) for s in statuses if query.state is None or s.state == query.state]
    statuses, last = registry().page(query.limit or PAGE_LIMIT, query.cursor, query.state)
    return {"clients": [client_json(s) for s in statuses], "next": None if last is None else client_cursor(last)}


@bp.get("/<client_id>", operation_id="getClient", responses=responses({200: ClientOut}, 400, 404))
@client_scoped
def get(path: ClientPath):
    """One client."""
    return client_json(registry().get(path.client_id))


@bp.post("/<client_id>/pair", operation_id="pairClient",
         responses=responses({200: ClientOut}, 400, 404, 409, 503, *BODY))
@client_scoped
def pair(path: ClientPath, body: PairClient):
    """Pair a closed or unpaired client again; the body (with 'phone') is optional."""
    return client_json(registry().pair(path.client_id, body.phone))


@bp.get("/<client_id>/qr", operation_id="getClientQr", responses=responses({200: QR_IMAGE}, 400, 404))
@client_scoped
def qr(path: ClientPath, query: QrQuery):
    """The pending QR code as a PNG, or its raw string with ?format=text."""
    data = registry().qr(path.client_id)
    headers = {"Cache-Control": "no-store"}  # the code rotates every few seconds
    if query.format == "text":
        return Response(data, mimetype="text/plain", headers=headers)
    return Response(qr_png(data), mimetype="image/png", headers=headers)


@bp.delete("/<client_id>", operation_id="deleteClient", responses=responses({200: ClientDeleted}, 400, 403, 404, 503))
@admin_only
def delete(path: ClientPath):
    """Unlink (within a few seconds), stop and remove a client in any state; says whether the phone still lists it."""
    outcome = registry().delete(path.client_id)
    return {"clientId": path.client_id, "deleted": True, "unlinked": outcome.unlinked, "message": outcome.message}
