"""Validation of the generic request fields: client ids and message text.

Pure functions: each returns the value or raises InvalidField with one sentence that names the
field. Offending input is quoted only as a single character, so messages stay short.
"""

from __future__ import annotations

from ..errors import InvalidField

CLIENT_ID_MAX = 64
TEXT_MAX_CHARS = 65536

_CLIENT_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def show_char(char: str) -> str:
    """A character quoted for an error message; lone surrogates escaped so the reply stays encodable."""
    return char.encode("utf-8", "backslashreplace").decode("utf-8")


def require_str(value, field: str) -> str:
    """value itself if it is a string; InvalidField if it is missing or of another type."""
    if value is None:
        raise InvalidField(field, f"Field '{field}' is required.")
    if not isinstance(value, str):
        raise InvalidField(field, f"Field '{field}' must be a string.")
    return value


def validate_client_id(value) -> str:
    """Return value if it is a valid clientId (1-64 of A-Z a-z 0-9 _ . -, starting alphanumeric)."""
    field = "clientId"
    value = require_str(value, field)
    if value == "":
        raise InvalidField(field, "Field 'clientId' must not be empty.")
    if len(value) > CLIENT_ID_MAX:
        raise InvalidField(field, f"Field 'clientId' must be at most {CLIENT_ID_MAX} characters long "
                                  f"(got {len(value)}).")
    bad = next((c for c in value if c not in _CLIENT_ID_CHARS), None)
    if bad is not None:
        raise InvalidField(field, "Field 'clientId' may only contain letters A-Z and a-z, digits, '_', '.' "
                                  f"and '-' ('{show_char(bad)}' is not allowed).")
    if value[0] not in _ASCII_ALNUM:
        raise InvalidField(field, "Field 'clientId' must start with a letter or a digit.")
    return value


def validate_text(value, field: str = "text", max_len: int = TEXT_MAX_CHARS) -> str:
    """Return message text unchanged if it is a non-blank string of at most max_len characters."""
    value = require_str(value, field)
    if value.strip() == "":
        raise InvalidField(field, f"Field '{field}' must not be empty or only whitespace.")
    if len(value) > max_len:
        raise InvalidField(field, f"Field '{field}' must be at most {max_len:,} characters long "
                                  f"(got {len(value):,}).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidField(field, f"Field '{field}' contains an unpaired UTF-16 surrogate escape, "
                                  "which is not a valid character.") from None
    return value
