"""The simulator network's CDN: what a simulated session uploads, kept as files, fetched by key.

Like WhatsApp's media servers, an upload is a file somewhere else, and a message carries only a
reference to it (its key, in Media.download). Files are copied in chunks into a temporary
directory of the network (never held whole in memory) and read back as a stream. Uploads are
counted per uploader, so a benchmark can tell that a broadcast uploaded its file once.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

COPY_CHUNK = 1 << 20


class SimCdn:
    """Uploaded files by key; the directory is made on the first upload and removed by close()."""

    def __init__(self):
        self._lock = threading.Lock()
        self._dir: tempfile.TemporaryDirectory | None = None
        self._uploads: dict[str, list[str]] = {}  # uploader -> the keys of its uploads

    def _root(self) -> Path:
        with self._lock:
            if self._dir is None:
                self._dir = tempfile.TemporaryDirectory(prefix="wamulti-sim-cdn-")
            return Path(self._dir.name)

    def put(self, path: Path, uploader: str = "") -> str:
        """Copy the file in (streamed) and answer its key; counts an upload by `uploader`."""
        key = secrets.token_urlsafe(18)
        with open(path, "rb") as source, open(self._root() / key, "xb") as target:
            shutil.copyfileobj(source, target, COPY_CHUNK)
        with self._lock:
            self._uploads.setdefault(uploader, []).append(key)
        return key

    def open(self, key: str) -> BinaryIO:
        """The uploaded file as a binary stream; FileNotFoundError for a key never uploaded."""
        if not key or not all(c.isalnum() or c in "-_" for c in key):
            raise FileNotFoundError("no such upload")
        return open(self._root() / key, "rb")

    def uploads(self, uploader: str) -> int:
        """How many files `uploader` has uploaded."""
        return len(self.keys_of(uploader))

    def keys_of(self, uploader: str) -> list[str]:
        """The keys of `uploader`'s uploads, oldest first."""
        with self._lock:
            return list(self._uploads.get(uploader, ()))

    def close(self) -> None:
        with self._lock:
            if self._dir is not None:
                self._dir.cleanup()
                self._dir = None
