"""JSON error handlers: every error from every route answers {"error": code, "message": ...}.

Responses never carry exception text from unexpected errors, stack traces, paths or secrets;
those go to the server log (without request bodies or headers).
"""

from __future__ import annotations

import json
import math
import logging

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from .. import errors as domain
from ..store.store_api import StoreError, StoreUnavailable

log = logging.getLogger(__name__)

# A client in these states needs a person (pairing) before it can send: ask callers to wait longer.
SLOW_RETRY_STATES = ("CLOSED", "PAIRING")
SLOW_RETRY_SECONDS, FAST_RETRY_SECONDS = 30, 5
STORE_RETRY_SECONDS = 5
QUEUE_RETRY_SECONDS = 10


class RequestError(Exception):
    """A request the API itself refuses before any domain code runs (key, body, query)."""

    status, code = 400, "invalid_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(RequestError):
    status, code = 400, "invalid_request"


class Unauthorized(RequestError):
    status, code = 401, "unauthorized"


class Forbidden(RequestError):
    status, code = 403, "forbidden"


class PayloadTooLarge(RequestError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(RequestError):
    status, code = 415, "unsupported_media_type"


# Domain error -> (HTTP status, stable error code); subclasses answer as their nearest listed base.
DOMAIN_STATUS = {
    domain.InvalidField: (400, "invalid_request"),
    domain.DestinationNotAllowed: (400, "destination_not_allowed"),
    domain.NotFound: (404, "not_found"),
    domain.NoPicture: (404, "no_picture"),
    domain.Conflict: (409, "conflict"),
    domain.Upstream: (502, "upstream_error"),
    domain.NotReady: (503, "client_not_ready"),
    domain.NoOwner: (503, "no_owner"),
    domain.RecipientNotOnWhatsApp: (422, "recipient_not_on_whatsapp"),
    domain.QueueFull: (429, "queue_full"),
    domain.IdempotencyKeyReused: (422, "idempotency_key_reused"),
    domain.RateLimited: (429, "rate_limited"),
    domain.NotGroupAdmin: (409, "not_group_admin"),
    domain.MediaTooLarge: (413, "media_too_large"),
    domain.MediaFetchFailed: (502, "media_fetch_failed"),
}

# Our own sentences for werkzeug's errors (its descriptions talk about browsers and proxies).
_HTTP_ERRORS = {
    400: ("invalid_request", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "This key may not use this route."),
    404: ("not_found", "No such resource or route."),
    405: ("method_not_allowed", "This method is not allowed for this route."),
    409: ("conflict", "The request conflicts with the resource's current state."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "The request body must be sent as 'Content-Type: application/json'."),
}


def json_error(status: int, body: dict, headers: dict | None = None) -> Response:
    """A JSON error response; falls back to ASCII escapes if a message is not encodable."""
    try:
        response = current_app.json.response(body)
    except UnicodeError:  # e.g. a lone surrogate that slipped into a message
        response = current_app.response_class(json.dumps(body, ensure_ascii=True) + "\n",
                                              mimetype=current_app.json.mimetype)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_request_error(exc: RequestError) -> Response:
    return json_error(exc.status, {"error": exc.code, "message": exc.message})


def handle_domain_error(exc: domain.DomainError) -> Response:
    status, code = next((DOMAIN_STATUS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_STATUS),
                        (500, "internal_error"))
    body, headers = {"error": code, "message": exc.message}, {}
    if isinstance(exc, domain.NotReady):
        body["currentState"] = exc.current_state
        slow = exc.current_state in SLOW_RETRY_STATES
        headers["Retry-After"] = str(SLOW_RETRY_SECONDS if slow else FAST_RETRY_SECONDS)
    if isinstance(exc, (domain.QueueFull, domain.NoOwner)):
        headers["Retry-After"] = str(QUEUE_RETRY_SECONDS)  # nothing was accepted (or done): retrying is safe
    if isinstance(exc, domain.RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return json_error(status, body, headers)


def handle_http_exception(exc: HTTPException):
    """Routing and protocol errors raised by werkzeug (404, 405, 413, 400, ...)."""
    status = exc.code or 500
    if status < 400:  # redirects (e.g. RequestRedirect) are not errors
        return exc
    code, message = _HTTP_ERRORS.get(status, ("invalid_request" if status < 500 else "internal_error",
                                             "The request could not be processed."))
    headers = {}
    if status == 405:
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
    if status >= 500:
        log.error("%s %s: HTTP %s", request.method, request.path, status,
                  exc_info=getattr(exc, "original_exception", None))
    return json_error(status, {"error": code, "message": message}, headers)


def handle_store_unavailable(exc: StoreUnavailable) -> Response:
    log.warning("%s %s: store unavailable: %s", request.method, request.path, exc)
    return json_error(503, {"error": "store_unavailable",
                            "message": "The session store is unreachable; try again shortly."},
                      {"Retry-After": str(STORE_RETRY_SECONDS)})


def handle_store_error(exc: StoreError) -> Response:
    # StoreError messages are written to be shown (e.g. max_allowed_packet too small).
    log.error("%s %s: store error: %s", request.method, request.path, exc)
    message = str(exc).strip() or "The session store failed."
    return json_error(500, {"error": "internal_error", "message": message})


def handle_unexpected(exc: Exception) -> Response:
    """Anything else: log the traceback here, answer a generic 500."""
    log.error("%s %s: unexpected error", request.method, request.path, exc_info=exc)
    return json_error(500, {"error": "internal_error", "message": "An unexpected error occurred on the server."})


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; Flask picks the most specific class of the raised exception."""
    app.register_error_handler(RequestError, handle_request_error)
    app.register_error_handler(domain.DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(StoreUnavailable, handle_store_unavailable)
    app.register_error_handler(StoreError, handle_store_error)
    app.register_error_handler(Exception, handle_unexpected)
