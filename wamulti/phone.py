"""Validation and normalisation of client ids, phone numbers, recipient JIDs and message text.

Pure functions: each returns the normalised value or raises BadRequest with one sentence that
names the field. Offending input is quoted only as a single character, so messages stay short.
"""

from __future__ import annotations

import re

from .errors import BadRequest

CLIENT_ID_MAX = 64
PHONE_MIN_DIGITS = 7
PHONE_MAX_DIGITS = 15
TEXT_MAX_CHARS = 65536
USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"

_CLIENT_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_PHONE_SEPARATORS = frozenset(" -.()")
_ASCII_DIGITS = frozenset("0123456789")
# New-style group ids are ~18 digits; old-style ones are "<creator phone>-<unix time>".
_GROUP_ID = re.compile(r"[1-9][0-9]{5,29}(?:-[0-9]{1,20})?", re.ASCII)


def _show(char: str) -> str:
    """A character quoted for an error message; lone surrogates escaped so the reply stays encodable."""
    return char.encode("utf-8", "backslashreplace").decode("utf-8")


def _require_str(value, field: str) -> str:
    if value is None:
        raise BadRequest(f"Field '{field}' is required.")
    if not isinstance(value, str):
        raise BadRequest(f"Field '{field}' must be a string.")
    return value


def validate_client_id(value) -> str:
    """Return value if it is a valid clientId (1-64 of A-Z a-z 0-9 _ . -, starting alphanumeric)."""
    value = _require_str(value, "clientId")
    if value == "":
        raise BadRequest("Field 'clientId' must not be empty.")
    if len(value) > CLIENT_ID_MAX:
        raise BadRequest(f"Field 'clientId' must be at most {CLIENT_ID_MAX} characters long (got {len(value)}).")
    bad = next((c for c in value if c not in _CLIENT_ID_CHARS), None)
    if bad is not None:
        raise BadRequest("Field 'clientId' may only contain letters A-Z and a-z, digits, '_', '.' and '-' "
                         f"('{_show(bad)}' is not allowed).")
    if value[0] not in _ASCII_ALNUM:
        raise BadRequest("Field 'clientId' must start with a letter or a digit.")
    return value


def normalize_phone(value, field: str = "phone") -> str:
    """Digits of a phone number with country code; accepts a leading '+', spaces, dashes, dots, parentheses."""
    value = _require_str(value, field).strip()
    if value.startswith("+"):
        value = value[1:]
    digits = []
    for char in value:
        if char in _ASCII_DIGITS:
            digits.append(char)
        elif char not in _PHONE_SEPARATORS:
            raise BadRequest(f"Field '{field}' must be a phone number with country code, e.g. '+49 151 2345678' "
                             f"('{_show(char)}' is not allowed).")
    number = "".join(digits)
    if not PHONE_MIN_DIGITS <= len(number) <= PHONE_MAX_DIGITS:
        raise BadRequest(f"Field '{field}' must have {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits "
                         f"including the country code (got {len(number)}).")
    if number[0] == "0":
        raise BadRequest(f"Field '{field}' must start with the country code, not 0 (write '+49 151...', "
                         "not '0049 151...' or '0151...').")
    return number


def normalize_recipient(value, field: str = "to") -> str:
    """A recipient JID: a phone number becomes '<digits>@s.whatsapp.net'; user and group JIDs are checked."""
    value = _require_str(value, field).strip()
    if "@" not in value:
        return f"{normalize_phone(value, field)}@{USER_SERVER}"
    user, _, server = value.partition("@")
    server = server.lower()
    if server == USER_SERVER:
        if not (user and all(c in _ASCII_DIGITS for c in user)):
            raise BadRequest(f"Field '{field}' must be '<digits>@{USER_SERVER}' with the phone number's digits only.")
        return f"{normalize_phone(user, field)}@{USER_SERVER}"
    if server == GROUP_SERVER:
        if not _GROUP_ID.fullmatch(user):
            raise BadRequest(f"Field '{field}' is not a valid group JID (expected e.g. '120363012345678901@g.us').")
        return f"{user}@{GROUP_SERVER}"
    raise BadRequest(f"Field '{field}' must be a phone number, a '<digits>@{USER_SERVER}' JID "
                     f"or a '<id>@{GROUP_SERVER}' group JID.")


def validate_text(value, field: str = "text", max_len: int = TEXT_MAX_CHARS) -> str:
    """Return message text unchanged if it is a non-blank string of at most max_len characters."""
    value = _require_str(value, field)
    if value.strip() == "":
        raise BadRequest(f"Field '{field}' must not be empty or only whitespace.")
    if len(value) > max_len:
        raise BadRequest(f"Field '{field}' must be at most {max_len:,} characters long (got {len(value):,}).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"Field '{field}' contains an unpaired UTF-16 surrogate escape, "
                         "which is not a valid character.") from None
    return value
