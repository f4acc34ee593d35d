"""The type of a file as its bytes say (libmagic), never as the caller says."""

from __future__ import annotations

import threading
from pathlib import Path

import magic

FALLBACK = "application/octet-stream"
_lock = threading.Lock()  # one libmagic handle, which is not thread-safe
_magic: magic.Magic | None = None


def sniff(path: Path) -> str:
    """The MIME type libmagic reads from the file's first bytes (octet-stream when it cannot tell)."""
    global _magic
    with path.open("rb") as file:
        head = file.read(8192)
    if not head:
        return FALLBACK
    with _lock:
        if _magic is None:
            _magic = magic.Magic(mime=True)
        found = _magic.from_buffer(head)
    return found if found and "/" in found else FALLBACK
