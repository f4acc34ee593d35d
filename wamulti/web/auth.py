"""API-key authentication and each route's key policy.

A key comes in `x-api-key` or `Authorization: Bearer <key>`. The admin key (API_KEY) is compared in
constant time without the store; a scoped key ('wam_...') is looked up in the store on every
request (wamulti.keys.ApiKeys). The principal found goes on `flask.g`; the registry and events
accessors hand a scoped principal only its clients (scoped.py).

Every route behind a key declares its policy with `@admin_only` or `@client_scoped` (under the
route decorator): a scoped key on any other route answers 403, so a route without a policy is
admin-only. tests/test_keys_api.py fails for a route under /api/ that declares none.
"""

from __future__ import annotations

import hmac

from flask import Flask, current_app, g, request

from ..keys import ADMIN, NOBODY, Principal
from .error_handlers import Forbidden, Unauthorized

API_KEY_HEADER = "x-api-key"  # header lookups are case-insensitive
CONFIG_KEY = "WAMULTI_API_KEY"
KEYS_EXTENSION = "wamulti.keys"
SESSIONS_EXTENSION = "wamulti.sessions"  # an object with principal_for_request() -> Principal | None
PROTECTED_PREFIX = "/api/"
BEARER_PREFIX = "bearer "
PRINCIPAL = "wamulti_principal"  # the flask.g attribute
POLICY = "wamulti_keys"  # the view function attribute (flask-openapi3's view copies it from ours)
ADMIN_ONLY, CLIENT_SCOPED = "admin", "scoped"
# The OpenAPI security schemes; SECURITY is what every route behind a key accepts (either one).
SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
    "bearer": {"type": "http", "scheme": "bearer", "description": "The same key as `x-api-key` takes."},
}
SECURITY = [{"apiKey": []}, {"bearer": []}]
KEY_MISSING = f"Header '{API_KEY_HEADER}' (or 'Authorization: Bearer <key>') with an API key is required."
KEY_INVALID = "The API key is not valid (wrong, or revoked)."


def admin_only(view):
    """Declare a route for the admin key only (a scoped key answers 403)."""
    setattr(view, POLICY, ADMIN_ONLY)
    return view


def client_scoped(view):
    """Declare a route a scoped key may use for its own clients (others look unknown: 404)."""
    setattr(view, POLICY, CLIENT_SCOPED)
    return view


def route_policy(view) -> str | None:
    """A view function's declared policy (None: none declared, which admits the admin key only)."""
    return getattr(view, POLICY, None)


def current_principal() -> Principal:
    """Whom this request acts for; NOBODY (no client) unless the request was authenticated."""
    return g.get(PRINCIPAL, NOBODY)


def _as_bytes(value: str) -> bytes | None:
    # WSGI hands header values over as latin-1 strings of the raw bytes; that turns them back.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return None


def _bearer_token() -> str:
    value = request.headers.get("Authorization", "")
    return value[len(BEARER_PREFIX):].strip() if value[:len(BEARER_PREFIX)].lower() == BEARER_PREFIX else ""


def _authenticate() -> Principal:
    given = request.headers.get(API_KEY_HEADER, "") or _bearer_token()
    if given:
        return principal_for_key(given)
    # no key in a header: the dashboard's session cookie, if the app has sessions (web/dashboard/);
    # it checks the session's CSRF token on every change itself
    sessions = current_app.extensions.get(SESSIONS_EXTENSION)
    found = sessions.principal_for_request() if sessions is not None else None
    if found is None:
        raise Unauthorized(KEY_MISSING)
    return found


def principal_for_key(given: str) -> Principal:
    """Whom a presented key acts for: the admin, a scoped key's principal, or Unauthorized."""
    given_bytes = _as_bytes(given)
    if given_bytes is None:
        raise Unauthorized(KEY_INVALID)
    if hmac.compare_digest(given_bytes, current_app.config[CONFIG_KEY].encode("utf-8")):
        return ADMIN  # checked without the store: the admin key works while the store is down
    keys = current_app.extensions.get(KEYS_EXTENSION)
    found = keys.principal_for(given) if keys is not None else None  # StoreUnavailable: 503
    if found is None:
        raise Unauthorized(KEY_INVALID)
    return found


def check_api_key() -> None:
    """Authenticate the request (once), then refuse a scoped key on a route not declared client-scoped."""
    principal = g.get(PRINCIPAL)
    if principal is None:
        principal = _authenticate()
        setattr(g, PRINCIPAL, principal)
    if principal.is_admin or request.url_rule is None:  # no route: 404/405 follow, and tell nothing
        return
    if route_policy(current_app.view_functions.get(request.endpoint)) != CLIENT_SCOPED:
        raise Forbidden("This route needs the admin key; a scoped key may only use its clients' routes.")


def _check_api_path() -> None:
    # Unknown paths and wrong methods under /api/ match no blueprint, so a blueprint hook would
    # answer them 404/405 without a key; this app-wide hook keeps the whole tree behind the key.
    if request.path == PROTECTED_PREFIX.rstrip("/") or request.path.startswith(PROTECTED_PREFIX):
        check_api_key()


def init_app(app: Flask, api_key: str, keys=None) -> None:
    """Store the admin key and the scoped keys' ApiKeys (None: the admin key only); protect /api/."""
    if not api_key:
        raise ValueError("an API key is required")
    app.config[CONFIG_KEY] = api_key
    if keys is not None:
        app.extensions[KEYS_EXTENSION] = keys
    app.before_request(_check_api_path)
