"""Routes under /api/clients/<id>: presence, number checks, contacts, profile pictures, the own profile.

Each needs the client READY (503 client_not_ready otherwise) and runs at once, not through the send
queue: presence is momentary, the rest are reads (clients/lookups.py).
"""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from ..auth import SECURITY, check_api_key, client_scoped
from ..lookup_models import (CheckNumbers, ContactList, PictureOut, PictureQuery, PresenceSent, ProfileOut,
                             SendPresence, NumberChecks)
from ..registry_port import registry
from ..responses import BODY, responses
from ..schemas import ClientPath

bp = APIBlueprint("lookups", __name__, url_prefix="/api/clients", abp_tags=[Tag(name="lookups")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)


@bp.post("/<client_id>/presence", operation_id="sendPresence",
         responses=responses({200: PresenceSent}, 400, 404, 502, 503, *BODY))
@client_scoped
def presence(path: ClientPath, body: SendPresence):
    """Typing, recording or paused in a chat, or available/unavailable for the account; sent at once."""
    registry().lookups(path.client_id).presence(body.state, body.chat)
    return {"clientId": path.client_id, "state": body.state, "chat": body.chat}


@bp.post("/<client_id>/check", operation_id="checkNumbers",
         responses=responses({200: NumberChecks}, 400, 404, 502, 503, *BODY))
@client_scoped
def check(path: ClientPath, body: CheckNumbers):
    """Which numbers are on WhatsApp, and the JID to use for each (answers are remembered like a send's)."""
    results = registry().lookups(path.client_id).check(body.numbers)
    return {"clientId": path.client_id, "results": [
        {"input": r.input, "onWhatsApp": r.on_whatsapp, "jid": r.jid, **({"error": r.error} if r.error else {})}
        for r in results]}


@bp.get("/<client_id>/contacts", operation_id="listContacts", responses=responses({200: ContactList}, 400, 404, 502, 503))
@client_scoped
def contacts(path: ClientPath):
    """The contacts the session knows, with the names from the phone's address book and their push names."""
    found = registry().lookups(path.client_id).contacts()
    return {"clientId": path.client_id, "contacts": [
        {"jid": c.jid, "phone": c.phone, "name": c.name, "pushName": c.push_name} for c in found]}


@bp.get("/<client_id>/picture", operation_id="getProfilePicture",
        responses=responses({200: PictureOut}, 400, 404, 502, 503))
@client_scoped
def picture(path: ClientPath, query: PictureQuery):
    """A user's or group's profile picture URL; 404 no_picture when it has none this account may see."""
    url = registry().lookups(path.client_id).picture(query.jid)
    return {"clientId": path.client_id, "jid": query.jid, "url": url}


@bp.get("/<client_id>/profile", operation_id="getOwnProfile", responses=responses({200: ProfileOut}, 400, 404, 502, 503))
@client_scoped
def profile(path: ClientPath):
    """The account's own JID, push name and about text."""
    own = registry().lookups(path.client_id).profile()
    return {"clientId": path.client_id, "jid": own.jid, "name": own.name, "about": own.about}
