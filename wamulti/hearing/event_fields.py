"""Validation of webhook and event input: URLs, secrets, type lists, event ids.

Pure functions shared by the settings (WEBHOOK_*) and the API: each returns the value or raises
InvalidField naming `field`, with a one-sentence message that starts with `label`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from urllib.parse import urlsplit

from ..destinations.urls import UnsendableUrl, sendable_url
from ..errors import InvalidField
from .event_model import CROCKFORD, ID_PREFIX, OPT_IN_TYPES, RANDOM_CHARS, TIME_CHARS, EventType

ALL_TYPES = "*"
SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES, SECRET_MAX_BYTES, SECRET_NEW_BYTES = 24, 64, 32
URL_MAX_CHARS = 2048
_EVENT_ID = re.compile(f"^{ID_PREFIX}[{CROCKFORD}]{{{TIME_CHARS + RANDOM_CHARS}}}$")


def _label(field: str, label: str | None) -> str:
    return label or f"Field '{field}'"


def check_url(value, field: str = "url", label: str | None = None) -> str:
    """An http(s) URL with a host, at most URL_MAX_CHARS long, without whitespace; returned in the
    form it is sent in (IDNA host, non-ASCII percent-encoded: see destinations.urls)."""
    name = _label(field, label)
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(field, f"{name} is required: an http:// or https:// URL.")
    value = value.strip()
    if len(value) > URL_MAX_CHARS or any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidField(field, f"{name} must be a URL of at most {URL_MAX_CHARS} characters without spaces.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise InvalidField(field, f"{name} is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidField(field, f"{name} must be an http:// or https:// URL with a host.")
    try:
        return sendable_url(value)
    except UnsendableUrl as exc:
        raise InvalidField(field, f"{name} cannot be sent: {exc}.") from None


def check_secret(value, field: str = "secret", label: str | None = None) -> str:
    """A Standard Webhooks secret: 'whsec_' + base64 of 24 to 64 bytes."""
    name = _label(field, label)
    hint = f"'{SECRET_PREFIX}' followed by the base64 of {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} random bytes"
    if not isinstance(value, str) or not value.startswith(SECRET_PREFIX):
        raise InvalidField(field, f"{name} must be {hint}.")
    try:
        raw = base64.b64decode(value[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidField(field, f"{name} must be {hint} (the base64 part is not valid).") from None
    if not SECRET_MIN_BYTES <= len(raw) <= SECRET_MAX_BYTES:
        raise InvalidField(field, f"{name} must be {hint} (it holds {len(raw)} bytes).")
    return value


def new_secret() -> str:
    """A fresh random secret in the 'whsec_' form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_NEW_BYTES)).decode("ascii")


def mask_secret(secret: str) -> str:
    """The secret as shown after it was set: the prefix and its last four characters."""
    return f"{SECRET_PREFIX}****{secret[-4:]}"


def check_event_type(value, field: str = "type", label: str | None = None) -> EventType:
    """One known event type."""
    try:
        return EventType(value)
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        raise InvalidField(field, f"{_label(field, label)} must be one of {known}.") from None


def check_event_types(values, field: str = "events", label: str | None = None) -> frozenset[EventType] | None:
    """A non-empty list of known types, or one that holds '*': None then means every type but the
    opt-in ones (presence); '*' with an opt-in type named as well is every type, listed."""
    name = _label(field, label)
    if not isinstance(values, (list, tuple)) or not values:
        raise InvalidField(field, f"{name} must be a non-empty list of event types, or ['*'].")
    if any(not isinstance(v, str) for v in values):
        raise InvalidField(field, f"{name} must list event types as strings.")
    named = frozenset(check_event_type(v, field, name + " entry") for v in values if v != ALL_TYPES)
    if ALL_TYPES in values:
        return frozenset(EventType) if named & OPT_IN_TYPES else None
    return named


def check_event_id(value, field: str = "after", label: str | None = None) -> str:
    """An event id ('evt_' + 26 Crockford base32 characters; the ULID part is case-insensitive)."""
    name = _label(field, label)
    if isinstance(value, str) and value[:len(ID_PREFIX)] == ID_PREFIX:
        value = ID_PREFIX + value[len(ID_PREFIX):].upper()
    if not isinstance(value, str) or not _EVENT_ID.match(value):
        raise InvalidField(field, f"{name} must be an event id like 'evt_01JD7Q5R2W8X3M9K4T6V0B1N2C'.")
    return value
