"""Group fields checked alike everywhere: a group JID, an invite link, participants, a subject.

Pure functions: each returns the normalised value or raises InvalidField with one sentence that
names the field.
"""

from __future__ import annotations

import re

from ..errors import InvalidField
from .client_fields import require_str, validate_text
from .phone import GROUP_SERVER, normalize_recipient, phone_of_recipient, user_jid

SUBJECT_MAX = 100  # WhatsApp's limit on a group's subject (characters)
DESCRIPTION_MAX = 2048  # and on its description
PARTICIPANTS_MAX = 256  # per request; WhatsApp's groups hold up to 1,024 members
INVITE_HOST = "chat.whatsapp.com"
_INVITE = re.compile(r"(?:(?:https?://)?chat\.whatsapp\.com/(?:invite/)?)?([A-Za-z0-9]{20,24})/?", re.ASCII)
_LID = re.compile(r"[1-9][0-9]{5,29}@lid", re.ASCII)


def normalize_group_jid(value, field: str = "group") -> str:
    """'<id>@g.us' (the id as WhatsApp writes it: digits, or the old '<phone>-<time>')."""
    value = require_str(value, field).strip()
    if not value.lower().endswith(f"@{GROUP_SERVER}"):
        raise InvalidField(field, f"Field '{field}' must be a group JID '<id>@{GROUP_SERVER}' "
                                  "(e.g. '120363012345678901@g.us').")
    return normalize_recipient(value, field)


def invite_code(value, field: str = "link") -> str:
    """The code of an invite link 'https://chat.whatsapp.com/<code>' (or the code alone)."""
    value = require_str(value, field).strip()
    found = _INVITE.fullmatch(value)
    if found is None:
        raise InvalidField(field, f"Field '{field}' must be an invite link 'https://{INVITE_HOST}/<code>' "
                                  "or its code (20-24 letters and digits).")
    return found.group(1)


def normalize_participant(value, field: str = "participants") -> str:
    """A member to be: a phone number (becomes its phone JID: WhatsApp answers per member whether it
    has an account), a '<digits>@s.whatsapp.net' JID or a privacy id '<digits>@lid'."""
    value = require_str(value, field).strip()
    if _LID.fullmatch(value):
        return value
    if value.lower().endswith(f"@{GROUP_SERVER}"):
        raise InvalidField(field, f"Field '{field}' lists a group; participants are people.")
    recipient = normalize_recipient(value, field)
    digits = phone_of_recipient(recipient)
    return user_jid(digits) if digits is not None else recipient


def normalize_participants(values, field: str = "participants", allow_empty: bool = False) -> list[str]:
    """A list of distinct participants, at most PARTICIPANTS_MAX (duplicates are one)."""
    if not isinstance(values, list):
        raise InvalidField(field, f"Field '{field}' must be a list of phone numbers or JIDs.")
    if not values and not allow_empty or len(values) > PARTICIPANTS_MAX:
        raise InvalidField(field, f"Field '{field}' must list {0 if allow_empty else 1} to {PARTICIPANTS_MAX} "
                                  f"participants (got {len(values)}).")
    return list(dict.fromkeys(normalize_participant(v, field) for v in values))


def validate_subject(value, field: str = "subject") -> str:
    return validate_text(value, field, SUBJECT_MAX)


def validate_description(value, field: str = "description") -> str:
    """A description; '' clears it."""
    return "" if require_str(value, field) == "" else validate_text(value, field, DESCRIPTION_MAX)
