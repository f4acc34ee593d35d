"""Session-file snapshots: read in a child process, compressed, restored atomically.

whatsmeow's Go SQLite and Python's sqlite3 in one process do not see each other's locks
(docs/neonize.md, "two SQLite libraries in one process"), so a live session file is only ever
read by a short-lived child process (`_snapshot_child.py`), which copies it with SQLite's online
backup (a consistent view) or, for a file that is not SQLite (the simulator's), reads it as it
is. In the service, the worker's persistence part (worker/persistence.py) is the only caller.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

_CHILD = Path(__file__).with_name("_snapshot_child.py")
CHILD_TIMEOUT = 60.0


class SnapshotFailed(Exception):
    """The session file could not be read; the message is safe to log."""


@dataclass(frozen=True)
class FileSnapshot:
    data: bytes  # zlib-compressed file contents, as stored
    sha256: str  # of the uncompressed contents


def file_signature(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of the file, or None when it is absent; cheap change detection."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def read_snapshot(path: Path) -> FileSnapshot:
    """A consistent, compressed copy of the session file, read by a child process."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(_CHILD), str(path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SnapshotFailed(f"snapshot reader did not run: {type(exc).__name__}") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["unknown error"]
        raise SnapshotFailed(f"snapshot reader failed: {reason[0][:200]}")
    raw = done.stdout
    return FileSnapshot(data=zlib.compress(raw, 6), sha256=hashlib.sha256(raw).hexdigest())


def restore_snapshot(path: Path, data: bytes) -> str:
    """Write a stored snapshot to path atomically (before any library opens it); return its sha256."""
    raw = zlib.decompress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".restore")
    with open(tmp, "wb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    for stale in (path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal"),
                  path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    os.replace(tmp, path)
    return hashlib.sha256(raw).hexdigest()


def remove_session_file(path: Path) -> None:
    """Remove the session file and SQLite's side files."""
    for name in ("", "-journal", "-wal", "-shm", ".restore"):
        path.with_name(path.name + name).unlink(missing_ok=True)
