"""/dashboard/session: sign in with a key (POST), read the session (GET), sign out (DELETE).

The key arrives once, in a JSON body (never a URL), is checked exactly as a key in x-api-key is
(web/auth.py), and is not kept: the session holds nothing of the admin key and the SHA-256 of a
scoped key. A JSON body cannot be sent by another site's form, and a request from another origin
is refused, so no other site can sign a browser in under its own key either.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from flask import current_app, jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from ...keys.secret import key_hash
from ..auth import SESSIONS_EXTENSION, principal_for_key
from ..error_handlers import Forbidden
from ..responses import BODY, ERROR_MODELS, responses
from .cookie_sessions import COOKIE, check_csrf, clear_cookie, set_cookie
from .dashboard_models import SessionOut, SignedOut, SignIn
from .session_book import DashboardSession

bp = APIBlueprint("dashboard_session", __name__, url_prefix="/dashboard", abp_tags=[Tag(name="dashboard")])
SIGNED_OUT = {"signedIn": False, "role": None, "keyId": None, "csrfToken": None, "expiresAt": None}


def _without_key(success: dict, *errors: int) -> dict:
    # these answer without a key (never 401): only the statuses they can give
    return {**success, **{status: ERROR_MODELS[status] for status in errors}}


def _sessions():
    return current_app.extensions[SESSIONS_EXTENSION]


def _same_origin() -> None:
    # host names only: a proxy in front (deploy/wamulti-nginx.conf) passes Host without its port
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).hostname != urlsplit(f"//{request.host}").hostname:
        raise Forbidden("The dashboard's sign-in is only accepted from the dashboard's own page.")


def session_json(session: DashboardSession, key_id: str | None) -> dict:
    expires = datetime.fromtimestamp(session.expires_at_wall, timezone.utc)
    return {"signedIn": True, "role": "admin" if session.key_hash is None else "scoped", "keyId": key_id,
            "csrfToken": session.csrf_token, "expiresAt": expires.isoformat(timespec="milliseconds")[:-6] + "Z"}


@bp.post("/session", operation_id="signIn", responses=responses({200: SessionOut}, 400, 403, *BODY))
def sign_in(body: SignIn):
    """Exchange a key for a session cookie (HttpOnly, SameSite=Strict); answers the CSRF token."""
    _same_origin()
    principal = principal_for_key(body.key)  # 401 for a wrong or revoked key, 503 if the store cannot tell
    sessions = _sessions()
    sessions.book.close(request.cookies.get(COOKIE, ""))  # a browser signing in again leaves no old session
    session_id, session = sessions.book.open(None if principal.is_admin else key_hash(body.key))
    response = jsonify(session_json(session, principal.key_id))
    set_cookie(response, session_id)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/session", operation_id="getSession", responses=_without_key({200: SessionOut}, 500, 503))
def get_session():
    """The current session and its CSRF token; `signedIn: false` without one (the page asks on load)."""
    sessions = _sessions()
    session = sessions.current()
    principal = sessions.principal_for_request() if session is not None else None
    body = SIGNED_OUT if principal is None else session_json(session, principal.key_id)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/session", operation_id="signOut", responses=_without_key({200: SignedOut}, 403, 500))
def sign_out():
    """End the session (with its CSRF token in X-CSRF-Token); without one there is nothing to end."""
    sessions = _sessions()
    session = sessions.current()
    if session is not None:
        check_csrf(session)
        sessions.book.close(request.cookies.get(COOKIE, ""))
    response = jsonify({"signedOut": True})
    clear_cookie(response)
    response.headers["Cache-Control"] = "no-store"
    return response
