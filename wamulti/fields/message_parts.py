"""Validation of the parts a send may carry besides text: a location, a contact card, a file name.

Pure functions like client_fields.py: each returns the value (normalised) or raises InvalidField
with one sentence naming the field.
"""

from __future__ import annotations

import math
import unicodedata

from ..errors import InvalidField
from .client_fields import require_str, validate_text

PLACE_MAX_CHARS = 1024  # a location's name or address
DISPLAY_NAME_MAX = 256
VCARD_MAX_BYTES = 16 * 1024  # a contact card is a few hundred bytes; photos inlined in one are refused
CAPTION_MAX_CHARS = 4096
FILE_NAME_MAX = 255


def check_coordinate(value, field: str, limit: float) -> float:
    """A latitude (limit 90) or longitude (limit 180): a finite number in [-limit, limit]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidField(field, f"Field '{field}' must be a number.")
    number = float(value)
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise InvalidField(field, f"Field '{field}' must be from -{limit:g} to {limit:g}.")
    return number


def check_place_text(value, field: str) -> str:
    """A location's name or address: text of at most PLACE_MAX_CHARS."""
    return validate_text(value, field, PLACE_MAX_CHARS)


def check_display_name(value, field: str = "contact.displayName") -> str:
    return validate_text(value, field, DISPLAY_NAME_MAX)


def check_vcard(value, field: str = "contact.vcard") -> str:
    """A vCard as WhatsApp carries it: BEGIN:VCARD ... END:VCARD with a VERSION, at most 16 KiB."""
    value = require_str(value, field)
    if len(value.encode("utf-8", "surrogatepass")) > VCARD_MAX_BYTES:
        raise InvalidField(field, f"Field '{field}' must be at most {VCARD_MAX_BYTES:,} bytes.")
    validate_text(value, field, VCARD_MAX_BYTES)  # no blank card, no unpaired surrogates
    lines = [line.strip() for line in value.strip().replace("\r\n", "\n").split("\n") if line.strip()]
    if lines[0].upper() != "BEGIN:VCARD" or lines[-1].upper() != "END:VCARD":
        raise InvalidField(field, f"Field '{field}' must start with BEGIN:VCARD and end with END:VCARD.")
    if not any(line.upper().startswith("VERSION:") for line in lines):
        raise InvalidField(field, f"Field '{field}' must have a VERSION line.")
    if sum(line.upper() == "BEGIN:VCARD" for line in lines) != 1:
        raise InvalidField(field, f"Field '{field}' must hold exactly one card.")
    return value


def _escaped(text: str) -> str:
    """A vCard 3.0 text value (RFC 2426 5.): backslash, comma and semicolon escaped, no line breaks."""
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")


def vcard_for_phone(display_name: str, digits: str) -> str:
    """A minimal vCard 3.0 for a phone number; `waid` is how WhatsApp links the card to an account."""
    return ("BEGIN:VCARD\r\nVERSION:3.0\r\n"
            f"FN:{_escaped(display_name)}\r\nN:;{_escaped(display_name)};;;\r\n"
            f"TEL;type=CELL;type=VOICE;waid={digits}:+{digits}\r\nEND:VCARD\r\n")


def sanitize_file_name(value, field: str = "media.fileName") -> str:
    """A file name a recipient's phone may save: the last path part, no control or path characters."""
    value = require_str(value, field)
    name = unicodedata.normalize("NFC", value).replace("\\", "/").split("/")[-1]
    name = "".join("_" if unicodedata.category(c)[0] == "C" or c in '<>:"|?*' else c for c in name).strip(" .")
    if not name:
        raise InvalidField(field, f"Field '{field}' must name a file (not only dots, spaces or a path).")
    if len(name) > FILE_NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:FILE_NAME_MAX - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:FILE_NAME_MAX]
    return name
