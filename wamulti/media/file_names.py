"""File names as kept and as sent back: no paths, no control characters, bounded length."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_NAME = 200
DEFAULT_NAME = "file"
_REFUSED = set('/\\:*?"<>|')


def sanitise(name: str | None) -> str | None:
    """The last path component of `name`, without control or path characters, at most MAX_NAME
    characters; None when nothing usable is left."""
    if not name:
        return None
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in name if c not in _REFUSED and unicodedata.category(c)[0] != "C")
    kept = kept.strip().strip(".").strip()
    return kept[:MAX_NAME] or None


def content_disposition(name: str | None) -> str:
    """`attachment` with the name as RFC 5987 UTF-8 (and an ASCII fallback for old readers)."""
    name = sanitise(name) or DEFAULT_NAME
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
