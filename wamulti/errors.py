"""Typed errors that know their HTTP status and stable code; rendered by api/errors.py."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered as {"error": code, "message": message, **extra}."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict:
        return {"error": self.code, "message": self.message, **self.extra}


class BadRequest(ApiError):
    status, code = 400, "invalid_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class Upstream(ApiError):
    status, code = 502, "upstream_error"


class NotReady(ApiError):
    status, code = 503, "client_not_ready"

    def __init__(self, message: str, current_state: str, retry_after: int = 5):
        super().__init__(message, currentState=current_state)
        self.headers["Retry-After"] = str(retry_after)
