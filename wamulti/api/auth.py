"""API-key authentication: header x-api-key compared in constant time with the configured key.

/metrics also takes `Authorization: Bearer <key>`, which Prometheus' scrape config can send.
"""

from __future__ import annotations

import functools
import hmac

from flask import Flask, current_app, g, request

from .errors import Unauthorized

API_KEY_HEADER = "x-api-key"  # header lookups are case-insensitive
CONFIG_KEY = "WAMULTI_API_KEY"
PROTECTED_PREFIX = "/api/"
BEARER_PREFIX = "bearer "
# The OpenAPI security schemes; SECURITY is what every route under /api/ requires.
SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
    "bearer": {"type": "http", "scheme": "bearer", "description": "The same API key (GET /metrics only)."},
}
SECURITY = [{"apiKey": []}]


def _as_bytes(value: str) -> bytes | None:
    # WSGI hands header values over as latin-1 strings of the raw bytes; that turns them back.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return None


def _bearer_token() -> str:
    value = request.headers.get("Authorization", "")
    return value[len(BEARER_PREFIX):].strip() if value[:len(BEARER_PREFIX)].lower() == BEARER_PREFIX else ""


def check_api_key(allow_bearer: bool = False) -> None:
    """Raise Unauthorized unless the request carries the configured API key (checked once per request)."""
    if g.get("wamulti_authenticated"):
        return
    expected = current_app.config[CONFIG_KEY].encode("utf-8")
    given = request.headers.get(API_KEY_HEADER, "") or (_bearer_token() if allow_bearer else "")
    if not given:
        also = " (or 'Authorization: Bearer <key>')" if allow_bearer else ""
        raise Unauthorized(f"Header '{API_KEY_HEADER}' with the API key is required{also}.")
    given_bytes = _as_bytes(given)
    if given_bytes is None or not hmac.compare_digest(given_bytes, expected):
        raise Unauthorized("The API key is not valid." if allow_bearer else
                           f"The API key in header '{API_KEY_HEADER}' is not valid.")
    g.wamulti_authenticated = True


def require_api_key(view):
    """Decorator for a single view that needs the API key."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        check_api_key()
        return view(*args, **kwargs)

    return wrapper


def _check_api_path() -> None:
    # Unknown paths and wrong methods under /api/ match no blueprint, so a blueprint hook would
    # answer them 404/405 without a key; this app-wide hook keeps the whole tree behind the key.
    if request.path == PROTECTED_PREFIX.rstrip("/") or request.path.startswith(PROTECTED_PREFIX):
        check_api_key()


def init_app(app: Flask, api_key: str) -> None:
    """Store the key and protect every path under /api/, routed or not."""
    if not api_key:
        raise ValueError("an API key is required")
    app.config[CONFIG_KEY] = api_key
    app.before_request(_check_api_path)
