"""Normalisation of phone numbers and recipient JIDs (client ids and text: client_fields.py).

Pure functions: each returns the normalised value or raises InvalidField with one sentence that
names the field. Offending input is quoted only as a single character, so messages stay short.
"""

from __future__ import annotations

import re

from ..errors import InvalidField
from .client_fields import require_str, show_char

PHONE_MIN_DIGITS = 7
PHONE_MAX_DIGITS = 15
USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"  # WhatsApp's privacy ids: incoming events may name a sender only by one

_PHONE_SEPARATORS = frozenset(" -.()")
_ASCII_DIGITS = frozenset("0123456789")
# New-style group ids are ~18 digits; old-style ones are "<creator phone>-<unix time>".
_GROUP_ID = re.compile(r"[1-9][0-9]{5,29}(?:-[0-9]{1,20})?", re.ASCII)
# A LID's user part is a number WhatsApp assigns (~15 digits today), unrelated to any phone number.
_LID_USER = re.compile(r"[1-9][0-9]{5,24}", re.ASCII)


def normalize_phone(value, field: str = "phone") -> str:
    """Digits of a phone number with country code; accepts a leading '+', spaces, dashes, dots, parentheses."""
    value = require_str(value, field).strip()
    if value.startswith("+"):
        value = value[1:]
    digits = []
    for char in value:
        if char in _ASCII_DIGITS:
            digits.append(char)
        elif char not in _PHONE_SEPARATORS:
            raise InvalidField(field, f"Field '{field}' must be a phone number with country code, "
                                      f"e.g. '+49 151 2345678' ('{show_char(char)}' is not allowed).")
    number = "".join(digits)
    if not PHONE_MIN_DIGITS <= len(number) <= PHONE_MAX_DIGITS:
        raise InvalidField(field, f"Field '{field}' must have {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits "
                                  f"including the country code (got {len(number)}).")
    if number[0] == "0":
        raise InvalidField(field, f"Field '{field}' must start with the country code, not 0 "
                                  "(write '+49 151...', not '0049 151...' or '0151...').")
    return number


def normalize_recipient(value, field: str = "to") -> str:
    """A recipient: a phone number becomes '+<digits>' (WhatsApp is asked for its JID before a send);
    user, privacy-id (@lid) and group JIDs are checked and kept as JIDs (sent as given)."""
    value = require_str(value, field).strip()
    if "@" not in value:
        return f"+{normalize_phone(value, field)}"
    user, _, server = value.partition("@")
    server = server.lower()
    if server == USER_SERVER:
        if not (user and all(c in _ASCII_DIGITS for c in user)):
            raise InvalidField(field, f"Field '{field}' must be '<digits>@{USER_SERVER}' "
                                      "with the phone number's digits only.")
        return f"{normalize_phone(user, field)}@{USER_SERVER}"
    if server == GROUP_SERVER:
        if not _GROUP_ID.fullmatch(user):
            raise InvalidField(field, f"Field '{field}' is not a valid group JID "
                                      "(expected e.g. '120363012345678901@g.us').")
        return f"{user}@{GROUP_SERVER}"
    if server == LID_SERVER:
        return lid_jid(user, field)
    raise InvalidField(field, f"Field '{field}' must be a phone number, a '<digits>@{USER_SERVER}' JID, "
                              f"a '<id>@{LID_SERVER}' privacy id or a '<id>@{GROUP_SERVER}' group JID.")


def lid_jid(user: str, field: str = "to") -> str:
    """A privacy-id JID '<digits>@lid' as incoming events carry it (sent as given, never looked up)."""
    if not _LID_USER.fullmatch(user):
        raise InvalidField(field, f"Field '{field}' is not a valid privacy id (expected e.g. '123456789012345@{LID_SERVER}').")
    return f"{user}@{LID_SERVER}"


def phone_of_recipient(recipient: str) -> str | None:
    """The digits of a '+<digits>' recipient (a phone number to resolve), None for a JID."""
    return recipient[1:] if recipient.startswith("+") else None


def user_jid(digits: str) -> str:
    """The phone-number JID '<digits>@s.whatsapp.net'."""
    return f"{digits}@{USER_SERVER}"
