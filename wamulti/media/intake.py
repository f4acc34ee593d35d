"""Streams arriving bytes into a temp file: hashed on the way, capped in size, never held whole."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import MediaTooLarge

CHUNK = 64 * 1024
STALE_SPOOL_SECONDS = 86400.0  # far past any upload's or download's deadline


@dataclass(frozen=True)
class Spooled:
    """A file spooled to `path` (the caller moves or removes it), its sha256 (hex) and size."""

    path: Path
    sha256: str
    size: int


def too_large(max_bytes: int) -> MediaTooLarge:
    return MediaTooLarge(f"The file is larger than the limit of {max_bytes} bytes (MEDIA_MAX_MB).")


class CappedSink:
    """A writable file object that hashes and counts, and raises MediaTooLarge past `max_bytes`."""

    def __init__(self, file: BinaryIO, max_bytes: int):
        self._file, self._max = file, max_bytes
        self.hash, self.size = hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self._max:
            raise too_large(self._max)
        self.hash.update(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()


def spool(write: Callable[[CappedSink], None], spool_dir: Path, max_bytes: int) -> Spooled:
    """A temp file in `spool_dir` filled by `write(sink)`; removed again if `write` raises."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=spool_dir, prefix="in-", suffix=".part")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as file:
            sink = CappedSink(file, max_bytes)
            write(sink)
            file.flush()
            os.fsync(file.fileno())  # the record says stored only once the bytes are on disk
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path, sink.hash.hexdigest(), sink.size)


def clear_stale(spool_dir: Path, older_than: float = STALE_SPOOL_SECONDS) -> int:
    """Remove spooled files a stopped process left behind (none is written to this long); how many."""
    cutoff, removed = time.time() - older_than, 0
    for path in spool_dir.glob("in-*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another instance sharing the directory removed it first
            continue
    return removed


def copy_stream(stream: BinaryIO) -> Callable[[CappedSink], None]:
    """A `write` for spool(): copies `stream` chunk by chunk."""
    def write(sink: CappedSink) -> None:
        while chunk := stream.read(CHUNK):
            sink.write(chunk)
    return write
