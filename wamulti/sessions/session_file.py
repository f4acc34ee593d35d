"""Session files: change detection, consistent compressed copies, atomic restore, the generation sidecar.

whatsmeow's Go SQLite and Python's sqlite3 in one process do not see each other's locks
(docs/neonize.md, "two SQLite libraries in one process"), so a live session file is only ever
read by another process: a long-lived helper (snapshot_helpers.py) or, with SNAPSHOT_HELPERS=0, a
child per snapshot (`snapshot_child.py`). Both copy a SQLite file with the online backup (a
consistent view) and read any other file (the simulator's) as it is.

The sidecar `<file>.gen` records the generation of the newest stored snapshot the local file is
known to be at least as new as (sessions/persistence.py has the rules). Go writes the session file
itself, so the generation cannot live inside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from . import snapshot_helpers

_CHILD = snapshot_helpers.CHILD
CHILD_TIMEOUT = 60.0
SIDE_FILES = ("-wal", "-journal")  # SQLite's: the main file may not change while these do (-shm is an index)
SIDECAR = ".gen"

Signature = tuple[int, ...]


class SnapshotFailed(Exception):
    """The session file could not be read; the message is safe to log."""


@dataclass(frozen=True)
class FileSnapshot:
    data: bytes | None  # zlib-compressed contents, as stored; None when they still had the known sha256
    sha256: str  # of the uncompressed contents


@dataclass(frozen=True)
class Sidecar:
    """What the local file is known to be at least as new as: a stored generation, and (once saved)
    the sha256 and file signature of that generation's snapshot."""

    generation: int
    sha256: str | None = None
    signature: Signature | None = None


def file_signature(path: Path) -> Signature | None:
    """(mtime_ns, size) of the file and of its -wal and -journal (-1, -1 when absent); None when the
    file itself is absent. Cheap change detection."""
    return signature_of(signature_paths(path))


def signature_paths(path: Path) -> tuple[str, ...]:
    """The names file_signature looks at, made once per client (the periodic check of thousands of
    clients should not build paths each round)."""
    return tuple(str(path.with_name(path.name + suffix)) for suffix in ("", *SIDE_FILES))


def signature_of(paths: tuple[str, ...]) -> Signature | None:
    """file_signature of the names signature_paths made."""
    values: list[int] = []
    for n, name in enumerate(paths):
        try:
            st = os.stat(name)
        except FileNotFoundError:
            if not n:
                return None
            values += (-1, -1)
            continue
        values += (st.st_mtime_ns, st.st_size)
    return tuple(values)


def read_snapshot(path: Path, known_sha: str | None = None) -> FileSnapshot:
    """A consistent, compressed copy of the session file, read by another process."""
    pool = snapshot_helpers.shared_pool()
    if pool is None:
        return _read_in_child(path, known_sha)
    try:
        sha, data = pool.read(path, known_sha)
    except snapshot_helpers.HelperFailed as exc:
        raise SnapshotFailed(str(exc)) from None
    return FileSnapshot(data=data, sha256=sha)


def _read_in_child(path: Path, known_sha: str | None) -> FileSnapshot:
    try:
        done = subprocess.run([sys.executable, "-I", "-S", str(_CHILD), str(path)], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=CHILD_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SnapshotFailed(f"snapshot reader did not run: {type(exc).__name__}") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["unknown error"]
        raise SnapshotFailed(f"snapshot reader failed: {reason[0][:200]}")
    sha = hashlib.sha256(done.stdout).hexdigest()
    return FileSnapshot(data=None if sha == known_sha else zlib.compress(done.stdout, 6), sha256=sha)


def _write_replacing(path: Path, payload: bytes, *, fsync: bool) -> None:
    """Write via a temporary file (fsynced if asked) renamed over path; the rename is durable once
    the directory is synced (sync_directory)."""
    tmp = path.with_name(path.name + ".restore")
    with open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def sync_directory(directory: Path) -> None:
    """fsync a directory: the renames in it survive a power loss (raises OSError)."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def restore_snapshot(path: Path, data: bytes) -> str:
    """Write a stored snapshot to path atomically (before any library opens it); return its sha256."""
    raw = zlib.decompress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in SIDE_FILES + ("-shm",):
        path.with_name(path.name + stale).unlink(missing_ok=True)
    _write_replacing(path, raw, fsync=True)  # durable before a sidecar can vouch for it
    return hashlib.sha256(raw).hexdigest()


def read_sidecar(path: Path) -> Sidecar | None:
    """The session file's sidecar, or None when there is none (or it cannot be read: see persistence)."""
    try:
        raw = json.loads(path.with_name(path.name + SIDECAR).read_text(encoding="utf-8"))
        signature = raw.get("signature")
        return Sidecar(int(raw["generation"]), raw.get("sha256"), tuple(signature) if signature else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_sidecar(path: Path, sidecar: Sidecar, *, sync_dir: bool = True) -> None:
    """Replace the sidecar atomically (raises OSError); the rename is made durable unless sync_dir is
    False, when the caller syncs the directory itself (the snapshot writer, once per batch).

    Only the rename needs to be durable: after a power loss a renamed sidecar whose contents were
    lost reads as no sidecar, and a file without one is kept (never overwritten); an old sidecar
    whose rename was lost could let an older stored copy win, which the directory sync prevents.
    """
    payload = {"generation": sidecar.generation, "sha256": sidecar.sha256,
               "signature": list(sidecar.signature) if sidecar.signature else None}
    _write_replacing(path.with_name(path.name + SIDECAR), json.dumps(payload).encode(), fsync=False)
    if sync_dir:
        sync_directory(path.parent)


def remove_session_file(path: Path) -> None:
    """Remove the session file, SQLite's side files and the sidecar."""
    for name in ("", *SIDE_FILES, "-shm", ".restore", SIDECAR, SIDECAR + ".restore"):
        path.with_name(path.name + name).unlink(missing_ok=True)
