"""Where the bytes live, keyed by their sha256: the same bytes stored twice are one blob.

`LocalBlobs` keeps them under a directory (DATA_DIR/media by default), moved in by an atomic rename
from the spool directory beside them; `s3_blobs.S3Blobs` keeps them in a bucket. Both read back in
chunks, never a whole file at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from .intake import CHUNK, clear_stale


class BlobStore(Protocol):
    """Blobs by sha256 (hex); thread-safe."""

    spool_dir: Path  # where intake spools arriving files (on the blobs' filesystem when local)

    def put(self, sha256: str, spooled: Path) -> None:
        """Keep the spooled file as the blob `sha256` (the file is consumed either way)."""

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes, a chunk at a time (FileNotFoundError if it is gone)."""

    def local_copy(self, sha256: str):
        """A context manager giving the blob as a local file path (S3: a temp copy, removed after)."""

    def delete(self, sha256: str) -> None:
        """Remove the blob (nothing happens if it is gone)."""

    def exists(self, sha256: str) -> bool: ...

    def file_path(self, sha256: str) -> Path | None:
        """The blob's own local file, when it has one (a local store), for the server to send as it is."""


def blob_name(sha256: str) -> str:
    """The blob's relative name: two levels of fan-out keep directories small."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


class LocalBlobs:
    """Blobs as files under `root/blobs`; arriving files are spooled in `root/spool` (same filesystem)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.spool_dir = self.root / "spool"
        self.spool_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        return self.root / "blobs" / blob_name(sha256)

    def put(self, sha256: str, spooled: Path) -> None:
        target = self._path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        # replaced even when present: a prune that found it unused a moment ago cannot leave the record without it
        os.replace(spooled, target)

    def chunks(self, sha256: str) -> Iterator[bytes]:
        path = self._path(sha256)
        if not path.is_file():
            raise FileNotFoundError(sha256)
        return read_chunks(path)

    @contextmanager
    def local_copy(self, sha256: str):
        path = self._path(sha256)
        if not path.is_file():
            raise FileNotFoundError(sha256)
        yield path

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def file_path(self, sha256: str) -> Path | None:
        path = self._path(sha256)
        return path if path.is_file() else None


def open_blob_store(spec: str, data_dir: Path) -> BlobStore:
    """MEDIA_STORE: '' (DATA_DIR/media), a directory path, or s3://bucket/prefix; spooled files a stopped
    process left are cleared."""
    if spec.startswith("s3://"):
        from .s3_blobs import S3Blobs

        bucket, _, prefix = spec[len("s3://"):].partition("/")
        blobs: BlobStore = S3Blobs(bucket, prefix.strip("/"), Path(data_dir) / "media-spool")
    else:
        blobs = LocalBlobs(Path(spec) if spec else Path(data_dir) / "media")
    clear_stale(blobs.spool_dir)
    return blobs
